"""Algorithm 1, the likelihood and its gradient (maxentrl.irl.maxent), in float64."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.experiments.ch06_maxent_irl import random_graph
from maxentrl.irl.baselines import label_bias_example
from maxentrl.irl.enumerate import enumerate_paths, enumerated_visitation
from maxentrl.irl.graph import GraphMDP, grid_graph
from maxentrl.irl.maxent import (
    backward_pass,
    expected_feature_counts,
    expected_visitation,
    fit_exponentiated_gradient,
    fit_gradient,
    fit_lbfgs,
    forward_pass,
    local_action_probabilities,
    log_likelihood_and_gradient,
    make_demonstrations,
    sample_paths,
    segment_logsumexp,
)


def dense_segment_lse(x: torch.Tensor, index: torch.Tensor, S: int) -> torch.Tensor:
    out = torch.full((x.shape[0], S), -torch.inf, dtype=x.dtype)
    for s in range(S):
        sel = index == s
        if bool(sel.any()):
            out[:, s] = torch.logsumexp(x[:, sel], dim=1)
    return out


@pytest.mark.parametrize("sorted_index", [True, False])
def test_segment_logsumexp_matches_dense(sorted_index: bool) -> None:
    g = torch.Generator().manual_seed(0)
    index = torch.randint(0, 6, (30,), generator=g)
    if sorted_index:
        index = index.sort().values
    x = 50 * torch.randn(3, 30, generator=g, dtype=torch.float64)
    x[0, :5] = -torch.inf
    lengths = torch.bincount(index, minlength=7) if sorted_index else None
    got = segment_logsumexp(x, index, 7, lengths=lengths)
    want = dense_segment_lse(x, index, 7)
    assert torch.equal(torch.isinf(got), torch.isinf(want))
    fin = torch.isfinite(want)
    assert torch.allclose(got[fin], want[fin], atol=1e-12, rtol=0)


def _one_hot_start(S: int, s: int = 0) -> torch.Tensor:
    D0 = torch.zeros(1, S, dtype=torch.float64)
    D0[0, s] = 1.0
    return D0


@pytest.mark.parametrize("seed", range(5))
def test_time_varying_algorithm1_equals_enumeration_on_cyclic_graphs(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    mdp = random_graph(7, acyclic=False, generator=g)
    theta = -2 * torch.rand(3, generator=g, dtype=torch.float64)
    N = 6
    D_s, D_a, log_Z = enumerated_visitation(mdp, theta, 0, 6, max_actions=N)
    vis = expected_visitation(mdp, theta, torch.tensor([6]), _one_hot_start(7), horizon=N, time_varying=True)
    assert torch.allclose(vis.D_state[0], D_s, atol=1e-12, rtol=0)
    assert torch.allclose(vis.D_action[0], D_a, atol=1e-12, rtol=0)
    assert float(vis.log_Z_state[0, 0]) == pytest.approx(float(log_Z), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_stationary_algorithm1_equals_enumeration_on_dags(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    mdp = random_graph(8, acyclic=True, generator=g)
    theta = torch.randn(3, generator=g, dtype=torch.float64)  # any sign: a DAG has finitely many paths
    D_s, D_a, _ = enumerated_visitation(mdp, theta, 0, 7, max_actions=8)
    vis = expected_visitation(mdp, theta, torch.tensor([7]), _one_hot_start(8), horizon=8)
    assert torch.allclose(vis.D_state[0], D_s, atol=1e-12, rtol=0)
    assert torch.allclose(vis.D_action[0], D_a, atol=1e-12, rtol=0)


def test_a_wrong_horizon_is_detected() -> None:
    """The check above can fail: a horizon too short for the DAG misses paths."""
    g = torch.Generator().manual_seed(1)
    mdp = random_graph(8, acyclic=True, generator=g)
    longest = max(len(p) for p in enumerate_paths(mdp, 0, 7, max_actions=8))
    theta = torch.zeros(3, dtype=torch.float64)
    D_s, _, _ = enumerated_visitation(mdp, theta, 0, 7, max_actions=8)
    vis = expected_visitation(mdp, theta, torch.tensor([7]), _one_hot_start(8), horizon=longest - 1)
    assert float((vis.D_state[0] - D_s).abs().max()) > 1e-3


def test_gradient_is_eq6_and_matches_autograd() -> None:
    """∇L = f̃ − E[f] (eq. 6) equals autograd of the enumerated log-likelihood."""
    g = torch.Generator().manual_seed(3)
    mdp = random_graph(7, acyclic=True, generator=g)
    paths = enumerate_paths(mdp, 0, 6, max_actions=7)
    demos = make_demonstrations(mdp, [paths[0], paths[-1], paths[len(paths) // 2]])
    theta = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    r_a = mdp.action_rewards(theta)
    path_r = torch.stack([r_a[torch.tensor(p)].sum() for p in paths])
    log_Z = torch.logsumexp(path_r, 0)
    L_enum = (demos.feature_counts @ theta - log_Z).mean()
    (grad_auto,) = torch.autograd.grad(L_enum, theta)
    L, grad = log_likelihood_and_gradient(mdp, theta.detach(), demos, horizon=7)
    assert float(L) == pytest.approx(float(L_enum.detach()), abs=1e-12)
    assert torch.allclose(grad, grad_auto, atol=1e-12, rtol=0)


def test_log_likelihood_is_concave() -> None:
    g = torch.Generator().manual_seed(4)
    mdp = random_graph(7, acyclic=True, generator=g)
    paths = enumerate_paths(mdp, 0, 6, max_actions=7)
    demos = make_demonstrations(mdp, paths[:2])
    for _ in range(10):
        theta = torch.randn(3, generator=g, dtype=torch.float64)
        d = torch.randn(3, generator=g, dtype=torch.float64)
        eps = 1e-2
        Lp, _ = log_likelihood_and_gradient(mdp, theta + eps * d, demos, horizon=7)
        Lm, _ = log_likelihood_and_gradient(mdp, theta - eps * d, demos, horizon=7)
        L0, _ = log_likelihood_and_gradient(mdp, theta, demos, horizon=7)
        assert float(Lp + Lm - 2 * L0) <= 1e-12


def test_batched_goals_equal_separate_runs_and_mass_is_conserved() -> None:
    mdp = grid_graph(4, 4, torch.rand(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    theta = torch.tensor([-2.0, -1.5], dtype=torch.float64)
    goals = torch.tensor([15, 0, 5])
    D0 = torch.zeros(3, 16, dtype=torch.float64)
    D0[0, 0] = D0[1, 15] = D0[2, 10] = 1.0
    vis = expected_visitation(mdp, theta, goals, D0, horizon=400, tol=1e-14)
    for b in range(3):
        one = expected_visitation(mdp, theta, goals[b : b + 1], D0[b : b + 1], horizon=400, tol=1e-14)
        assert torch.allclose(vis.D_state[b], one.D_state[0], atol=1e-12)
        # every unit of start mass arrives at the goal exactly once
        assert float(vis.D_state[b, goals[b]]) == pytest.approx(1.0, abs=1e-10)
    assert vis.backward_iterations < 400


def test_local_action_probabilities_sum_to_one() -> None:
    mdp = grid_graph(3, 3, torch.ones(9, 1, dtype=torch.float64))
    bw = backward_pass(mdp, torch.tensor([-2.0], dtype=torch.float64), torch.tensor([8]), horizon=200, tol=1e-13)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    sums = torch.zeros(1, 9, dtype=torch.float64).index_add_(1, mdp.src, pi)
    assert torch.allclose(sums[0, :8], torch.ones(8, dtype=torch.float64), atol=1e-12)
    assert float(sums[0, 8]) == 0.0  # no action leaves the absorbing goal


def test_sampled_paths_follow_the_maxent_distribution() -> None:
    mdp, A, B, paths = label_bias_example()
    theta = torch.zeros(1, dtype=torch.float64)
    bw = backward_pass(mdp, theta, torch.tensor([B]), horizon=5)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    n = 6000
    got = sample_paths(mdp, pi, torch.full((n,), A), torch.zeros(n, dtype=torch.long), torch.full((n,), B),
                       generator=torch.Generator().manual_seed(0), max_steps=10)
    freq = [sum(p == q for p in got) / n for q in paths]
    assert all(abs(f - 1 / 3) < 0.03 for f in freq)


def test_learners_recover_planted_weights_on_a_gridworld() -> None:
    gen = torch.Generator().manual_seed(0)
    terrain = torch.randint(3, (25,), generator=gen)
    mdp = grid_graph(5, 5, torch.nn.functional.one_hot(terrain, 3).double())
    theta_star = torch.tensor([-1.6, -2.4, -3.5], dtype=torch.float64)
    bw = backward_pass(mdp, theta_star, torch.tensor([24]), horizon=1000, tol=1e-13)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    starts = torch.randint(24, (3000,), generator=gen)
    paths = sample_paths(mdp, pi, starts, torch.zeros(3000, dtype=torch.long), torch.full((3000,), 24), generator=gen, max_steps=1000)
    demos = make_demonstrations(mdp, paths)
    fit = fit_lbfgs(mdp, demos, torch.full((3,), -2.5, dtype=torch.float64), iterations=100, horizon=1000, tol=1e-13)
    _, grad = log_likelihood_and_gradient(mdp, fit.theta, demos, horizon=1000, tol=1e-13)
    assert float(grad.norm()) < 1e-6  # feature expectations matched (eq. 6)
    assert float((fit.theta - theta_star).norm() / theta_star.norm()) < 0.05
    eg = fit_exponentiated_gradient(mdp, demos, torch.full((3,), 2.5, dtype=torch.float64), step=0.1, iterations=30, horizon=1000, tol=1e-10)
    assert bool((eg.theta < 0).all())  # costs stay positive
    assert eg.log_likelihood[-1] > eg.log_likelihood[0]
    gd = fit_gradient(mdp, demos, torch.full((3,), -2.5, dtype=torch.float64), step=0.1, iterations=10, horizon=1000, tol=1e-10)
    assert gd.log_likelihood[-1] > gd.log_likelihood[0]


def test_expected_feature_counts_of_one_path() -> None:
    mdp, A, B, paths = label_bias_example()
    D_action = torch.zeros(1, mdp.num_actions, dtype=torch.float64)
    D_action[0, paths[2]] = 1.0
    assert torch.allclose(expected_feature_counts(mdp, D_action), torch.zeros(1, 1, dtype=torch.float64))


def test_bad_arguments_raise() -> None:
    mdp, A, B, paths = label_bias_example()
    theta = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ConfigError):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=0)
    with pytest.raises(ConfigError):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=3, tol=-1.0)
    with pytest.raises(ConfigError):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=3, gamma=0.0)
    with pytest.raises(ConfigError):
        forward_pass(mdp, torch.zeros(3, 1, mdp.num_actions), torch.zeros(1, 7), horizon=5)
    with pytest.raises(ConfigError):
        make_demonstrations(mdp, [[0, 5]])  # not connected
    with pytest.raises(ConfigError):
        make_demonstrations(mdp, [])
    demos = make_demonstrations(mdp, paths)
    with pytest.raises(ConfigError):
        fit_exponentiated_gradient(mdp, demos, torch.zeros(1, dtype=torch.float64), step=0.1, iterations=2, horizon=4)
    with pytest.raises(ConfigError):
        fit_gradient(mdp, demos, theta, step=-1.0, iterations=2, horizon=4)


def test_float32_and_unsorted_edges_agree_with_float64() -> None:
    g = torch.Generator().manual_seed(5)
    mdp = grid_graph(4, 4, torch.rand(16, 2, generator=g, dtype=torch.float64))
    perm = torch.randperm(mdp.num_actions, generator=g)
    shuffled = GraphMDP(16, mdp.src[perm], mdp.dst[perm], mdp.state_features, mdp.action_features[perm])
    theta = torch.tensor([-2.0, -1.0], dtype=torch.float64)
    D0 = _one_hot_start(16)
    a = expected_visitation(mdp, theta, torch.tensor([15]), D0, horizon=300, tol=1e-13)
    b = expected_visitation(shuffled, theta, torch.tensor([15]), D0, horizon=300, tol=1e-13)
    assert torch.allclose(a.D_state, b.D_state, atol=1e-12)
    c = expected_visitation(mdp.to(dtype=torch.float32), theta.float(), torch.tensor([15]), D0.float(), horizon=300, tol=1e-6)
    assert torch.allclose(c.D_state.double(), a.D_state, atol=1e-4)
