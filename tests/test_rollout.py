"""Tests of maxentrl.rollout: Monte-Carlo entropy-augmented returns of tabular policies."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.mdp import gridworld, random_mdp
from maxentrl.rollout import horizon_for, rollout_returns, truncation_bound
from maxentrl.soft_bellman import greedy_policy, soft_policy_evaluation, value_iteration

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def setting():
    mdp = random_mdp(3, 4, 3, generator=gen(), gamma=0.7)
    e = torch.rand(3, 4, 3, generator=gen(1), dtype=F64)
    pi = e / e.sum(-1, keepdim=True)  # an arbitrary stochastic policy, not the optimal one
    return mdp, pi


@pytest.mark.parametrize("entropy_term", ["exact", "sampled"])
def test_mean_return_matches_soft_value(setting, entropy_term: str) -> None:
    mdp, pi = setting
    tau = 0.6
    _, V = soft_policy_evaluation(mdp, pi, tau)
    T = horizon_for(0.7, 1e-12)
    G = rollout_returns(mdp, pi, tau, n_episodes=20_000, horizon=T, generator=gen(2), start_state=1, entropy_term=entropy_term)
    z = (G.mean(1) - V[:, 1]) / (G.std(1) / math.sqrt(20_000))
    assert bool((z.abs() < 4).all()), z


def test_start_states_drawn_from_mu0(setting) -> None:
    mdp, pi = setting
    tau = 0.3
    _, V = soft_policy_evaluation(mdp, pi, tau)
    G = rollout_returns(mdp, pi, tau, n_episodes=20_000, horizon=horizon_for(0.7, 1e-12), generator=gen(3))
    want = (mdp.mu0 * V).sum(-1)
    z = (G.mean(1) - want) / (G.std(1) / math.sqrt(20_000))
    assert bool((z.abs() < 4).all()), z


def test_first_entropy_term_belongs_to_the_start_state(setting) -> None:
    """With horizon 1 the return is r(s0, a0) + τ H(π(·|s0)): the entropy of the start state counts."""
    mdp, pi = setting
    G = rollout_returns(mdp, pi, 2.0, n_episodes=50_000, horizon=1, generator=gen(4), start_state=0)
    H0 = -(pi[:, 0] * pi[:, 0].log()).sum(-1)
    want = (pi[:, 0] * mdp.r[:, 0]).sum(-1) + 2.0 * H0
    assert torch.allclose(G.mean(1), want, atol=4 * float(G.std(1).max()) / math.sqrt(50_000))


def test_deterministic_policy_collects_no_entropy() -> None:
    mdp = gridworld(3, 3, gamma=0.9)
    Q, _, _ = value_iteration(mdp)
    pi = greedy_policy(Q)
    G = rollout_returns(mdp, pi, 5.0, n_episodes=10, horizon=50, generator=gen(), entropy_term="sampled")
    want = -sum(0.9**t for t in range(4))  # four steps of −1 to the goal, then 0
    assert torch.allclose(G, torch.full_like(G, want), atol=1e-12)


def test_reproducible_with_seed(setting) -> None:
    mdp, pi = setting
    a = rollout_returns(mdp, pi, 1.0, n_episodes=50, horizon=20, generator=gen(7))
    b = rollout_returns(mdp, pi, 1.0, n_episodes=50, horizon=20, generator=gen(7))
    c = rollout_returns(mdp, pi, 1.0, n_episodes=50, horizon=20, generator=gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_tensor_tau(setting) -> None:
    mdp, pi = setting
    taus = torch.tensor([0.1, 1.0, 3.0], dtype=F64)
    _, V = soft_policy_evaluation(mdp, pi, taus)
    G = rollout_returns(mdp, pi, taus, n_episodes=20_000, horizon=horizon_for(0.7, 1e-12), generator=gen(9), start_state=2)
    z = (G.mean(1) - V[:, 2]) / (G.std(1) / math.sqrt(20_000))
    assert bool((z.abs() < 4).all()), z


def test_truncation_bound_and_horizon() -> None:
    mdp = random_mdp(2, 3, 2, generator=gen(), gamma=0.5)
    bound = truncation_bound(mdp, 1.0, 10)
    r_max = mdp.r.abs().amax(dim=(1, 2))
    assert torch.allclose(bound, 0.5**10 * (r_max + math.log(2)) / 0.5)
    assert horizon_for(0.5, 1e-3) == 10 and 0.5 ** horizon_for(0.5, 1e-3) <= 1e-3
    with pytest.raises(ConfigError):
        horizon_for(1.0, 1e-3)


def test_bad_arguments(setting) -> None:
    mdp, pi = setting
    with pytest.raises(ConfigError):
        rollout_returns(mdp, pi, -1.0, n_episodes=5, horizon=5, generator=gen())
    with pytest.raises(ConfigError):
        rollout_returns(mdp, pi, 1.0, n_episodes=0, horizon=5, generator=gen())
    with pytest.raises(ConfigError):
        rollout_returns(mdp, pi[:, :, :2], 1.0, n_episodes=5, horizon=5, generator=gen())
    with pytest.raises(ConfigError):
        rollout_returns(mdp, pi, 1.0, n_episodes=5, horizon=5, generator=gen(), start_state=99)
    with pytest.raises(ConfigError):
        rollout_returns(mdp, pi, 1.0, n_episodes=5, horizon=5, generator=gen(), entropy_term="kl")


def test_start_states_and_policies_are_checked() -> None:
    mdp = random_mdp(2, 4, 3, generator=torch.Generator().manual_seed(0), gamma=0.9, dtype=torch.float64)
    pi = torch.full((2, 4, 3), 1 / 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    kw = dict(n_episodes=2, horizon=3, generator=g)
    for bad in (-1, 4, True):
        with pytest.raises(ConfigError, match="start_state"):
            rollout_returns(mdp, pi, 1.0, start_state=bad, **kw)
    with pytest.raises(ConfigError, match=r"start_state must lie in \[0, 4\)"):
        rollout_returns(mdp, pi, 1.0, start_state=torch.tensor([0, -1]), **kw)
    with pytest.raises(ConfigError, match="start_state must be one index or a tensor"):
        rollout_returns(mdp, pi, 1.0, start_state=torch.tensor([0, 1, 2]), **kw)
    nan_pi = pi.clone()
    nan_pi[0, 0, 0] = float("nan")
    with pytest.raises(ConfigError, match="probability distribution"):
        rollout_returns(mdp, nan_pi, 1.0, **kw)
