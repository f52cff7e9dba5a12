"""Destination posterior by Bayes' rule (maxentrl.irl.destination)."""

from __future__ import annotations

import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.destination import destination_log_posterior, destination_log_posterior_from_log_Z
from maxentrl.irl.enumerate import enumerate_paths
from maxentrl.irl.graph import grid_graph

import pytest


def test_posterior_equals_brute_force_bayes_rule() -> None:
    g = torch.Generator().manual_seed(0)
    mdp = grid_graph(3, 3, torch.rand(9, 2, generator=g, dtype=torch.float64))
    theta = torch.tensor([-1.0, -2.0], dtype=torch.float64)
    dests = torch.tensor([8, 2, 6])
    prior = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    prefix = [1, 4]  # actions of a partial route: 0 -> 1 -> ...
    A = int(mdp.src[prefix[0]])
    B = int(mdp.dst[prefix[-1]])
    N = 8
    r_a = mdp.action_rewards(theta)
    # brute force: P(prefix | dest) = Σ over full paths A→dest (≤ N actions) that start with the prefix / Z_A(dest)
    post = []
    for d, p in zip(dests.tolist(), prior.tolist()):
        paths = enumerate_paths(mdp, A, d, max_actions=N)
        w = torch.stack([r_a[torch.tensor(q)].sum() for q in paths]).exp()
        with_prefix = sum(float(wi) for q, wi in zip(paths, w) if q[: len(prefix)] == prefix)
        post.append(with_prefix / float(w.sum()) * p)
    post = torch.tensor(post) / sum(post)
    # with the finite horizon, paths from B may use N − len(prefix) actions: use the exact time-varying log Z
    from maxentrl.irl.maxent import backward_pass

    bw = backward_pass(mdp, theta, dests, horizon=N, keep_history=True)
    log_Z_A = bw.history[N][:, A]
    log_Z_B = bw.history[N - len(prefix)][:, B]
    logits = log_Z_B - log_Z_A + prior.log()
    assert torch.allclose(torch.softmax(logits, 0), post.double(), atol=1e-12)
    # the converged (infinite-horizon) posterior is the long-horizon limit of the same formula
    long = backward_pass(mdp, theta, dests, horizon=300, keep_history=True)
    limit = torch.softmax(long.history[300][:, B] - long.history[300][:, A] + prior.log(), 0)
    got = destination_log_posterior(mdp, theta, dests, torch.tensor([A]), torch.tensor([B]), prior.log(), horizon=500, tol=1e-13)
    assert torch.allclose(got.exp()[0], limit, atol=1e-10)
    assert torch.allclose(got.exp().sum(1), torch.ones(1, dtype=torch.float64))


def test_prior_only_at_the_start_and_shape_check() -> None:
    log_Z = torch.randn(3, 5, dtype=torch.float64)
    prior = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64).log()
    A = torch.tensor([1, 2])
    post = destination_log_posterior_from_log_Z(log_Z, A, A, prior)  # nothing observed yet
    assert torch.allclose(post, prior.expand(2, -1))
    with pytest.raises(ConfigError):
        destination_log_posterior_from_log_Z(log_Z, A, A, prior[:2])


def test_bad_arguments_are_refused() -> None:
    log_Z = torch.zeros(2, 4, dtype=torch.float64)
    prior = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))
    with pytest.raises(ConfigError, match="A"):
        destination_log_posterior_from_log_Z(log_Z, torch.tensor([-1]), torch.tensor([0]), prior)
    with pytest.raises(ConfigError, match="B"):
        destination_log_posterior_from_log_Z(log_Z, torch.tensor([0]), torch.tensor([4]), prior)
    with pytest.raises(ConfigError, match="log_prior"):
        destination_log_posterior_from_log_Z(log_Z, torch.tensor([0]), torch.tensor([1]), prior[:1])
    with pytest.raises(ConfigError, match="log_Z_state"):
        destination_log_posterior_from_log_Z(log_Z * float("nan"), torch.tensor([0]), torch.tensor([1]), prior)
    mdp = grid_graph(2, 2, torch.zeros(4, 1, dtype=torch.float64))
    with pytest.raises(ConfigError, match="destinations"):
        destination_log_posterior(mdp, torch.zeros(1, dtype=torch.float64), torch.tensor([4]), torch.tensor([0]),
                                  torch.tensor([1]), prior[:1], horizon=3)
