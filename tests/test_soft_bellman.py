"""Tests of maxentrl.soft_bellman: the soft backup, its fixed point and the algorithms built on it (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.boltzmann import entropy
from maxentrl.errors import ConfigError
from maxentrl.mdp import random_mdp
from maxentrl.soft_bellman import (
    boltzmann_backup,
    expected_next_value,
    fixed_policy_backup,
    greedy_policy,
    hard_bellman_backup,
    maxent_policy,
    n_step_boltzmann_backup,
    soft_bellman_backup,
    soft_policy_evaluation,
    soft_policy_iteration,
    soft_value,
    soft_value_difference,
    soft_value_iteration,
    value_iteration,
)

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def mdp():
    return random_mdp(5, 4, 3, generator=gen(), gamma=(0.6, 0.95))


def test_soft_value_is_log_sum_exp_and_between_max_and_max_plus_entropy() -> None:
    Q = torch.randn(3, 4, 5, generator=gen(), dtype=F64)
    for tau in (0.01, 0.5, 3.0):
        V = soft_value(Q, tau)
        brute = tau * torch.log(torch.exp(Q / tau).sum(-1))
        assert torch.allclose(V, brute, atol=1e-12)
        assert bool((V >= Q.amax(-1) - 1e-12).all()) and bool((V <= Q.amax(-1) + tau * math.log(5) + 1e-12).all())


def test_gradient_of_soft_value_is_the_maxent_policy() -> None:
    # dV/dQ(s, a) = π(a|s) (the Boltzmann policy of eq. 6), checked with autograd
    Q = torch.randn(2, 3, 4, generator=gen(), dtype=F64, requires_grad=True)
    V = soft_value(Q, 0.7)
    (grad,) = torch.autograd.grad(V.sum(), Q)
    assert torch.allclose(grad, maxent_policy(Q.detach(), 0.7), atol=1e-12)
    pi = maxent_policy(Q.detach(), 0.7)
    assert torch.allclose(pi, torch.exp((Q.detach() - V.detach().unsqueeze(-1)) / 0.7), atol=1e-12)


def test_backup_matches_explicit_loops(mdp) -> None:
    Q = torch.randn(5, 4, 3, generator=gen(1), dtype=F64)
    tau = 0.4
    TQ = soft_bellman_backup(Q, mdp, tau)
    g = mdp.gamma_tensor()
    for b in range(5):
        for s in range(4):
            for a in range(3):
                v = 0.0
                for s2 in range(4):
                    v += float(mdp.P[b, s, a, s2]) * tau * math.log(sum(math.exp(float(Q[b, s2, a2]) / tau) for a2 in range(3)))
                assert abs(float(TQ[b, s, a]) - (float(mdp.r[b, s, a]) + float(g[b]) * v)) < 1e-12


def test_tensor_tau_equals_per_mdp_floats(mdp) -> None:
    Q = torch.randn(5, 4, 3, generator=gen(2), dtype=F64)
    taus = torch.tensor([0.1, 0.5, 1.0, 2.0, 10.0], dtype=F64)
    TQ = soft_bellman_backup(Q, mdp, taus)
    for b in range(5):
        one = soft_bellman_backup(Q[b : b + 1], mdp.select(b), float(taus[b]))
        assert torch.allclose(TQ[b : b + 1], one, atol=1e-12)


def test_contraction_on_random_pairs() -> None:
    mdp = random_mdp(500, 5, 3, generator=gen(3), gamma=(0.3, 0.99))
    taus = 10 ** (4 * torch.rand(500, generator=gen(4), dtype=F64) - 2)
    Q1 = 5 * torch.randn(500, 5, 3, generator=gen(5), dtype=F64)
    Q2 = 5 * torch.randn(500, 5, 3, generator=gen(6), dtype=F64)
    num = (soft_bellman_backup(Q1, mdp, taus) - soft_bellman_backup(Q2, mdp, taus)).abs().amax(dim=(1, 2))
    den = (Q1 - Q2).abs().amax(dim=(1, 2))
    assert bool((num <= mdp.gamma_tensor() * den * (1 + 1e-12)).all())


def test_soft_value_difference_is_exact_and_bounded() -> None:
    Q1 = torch.randn(6, 4, 3, generator=gen(7), dtype=F64)
    Q2 = Q1 + 0.3 * torch.randn(6, 4, 3, generator=gen(8), dtype=F64)
    for tau in (1e-3, 0.2, 5.0, 1e3):
        d = soft_value_difference(Q1, Q2, tau)
        assert torch.allclose(d, soft_value(Q1, tau) - soft_value(Q2, tau), atol=1e-11)
        D = Q1 - Q2
        assert bool((d <= D.amax(-1) + 1e-15).all()) and bool((d >= D.amin(-1) - 1e-15).all())
    # a constant shift c moves V by c, to a few ulps of c even when τ ≫ c (a plain difference loses ~1e-9 here)
    D = (Q1 + 1e-4) - Q1
    assert torch.allclose(soft_value_difference(Q1 + 1e-4, Q1, 1e3), D.mean(-1), rtol=1e-10, atol=0)


def test_soft_value_iteration_reaches_the_fixed_point(mdp) -> None:
    Q, V, info = soft_value_iteration(mdp, 0.5, tol=1e-12)
    assert bool(info["converged"].all())
    assert float((soft_bellman_backup(Q, mdp, 0.5) - Q).abs().max()) < 1e-11
    assert torch.allclose(V, soft_value(Q, 0.5))


def test_soft_value_iteration_records_residuals(mdp) -> None:
    _, _, info = soft_value_iteration(mdp, 1.0, tol=1e-8, record=True)
    res = info["residuals"]
    assert res.shape == (info["iterations"], 5)
    # each residual is at most γ times the previous one (a contraction)
    meaningful = res[:-1] > 1e-9  # well above the rounding floor (~1e-14), where ratios are exact to ~1e-5
    ratio = res[1:] / res[:-1].clamp_min(1e-300)
    assert bool(meaningful.any())
    assert bool((ratio <= mdp.gamma_tensor() + 1e-4)[meaningful].all())


def test_theorem_1_maxent_policy_is_optimal(mdp) -> None:
    """V^{π*} = V* and no perturbed policy does better (Haarnoja et al. 2017, Theorem 1)."""
    tau = 0.8
    Q, V, _ = soft_value_iteration(mdp, tau, tol=1e-13)
    pi_star = maxent_policy(Q, tau)
    Q_pi, V_pi = soft_policy_evaluation(mdp, pi_star, tau)
    assert torch.allclose(Q_pi, Q, atol=1e-9) and torch.allclose(V_pi, V, atol=1e-9)
    for seed in range(20):
        noise = torch.rand(pi_star.shape, generator=gen(100 + seed), dtype=F64)
        pi = 0.8 * pi_star + 0.2 * noise / noise.sum(-1, keepdim=True)
        _, V_other = soft_policy_evaluation(mdp, pi, tau)
        assert bool((V_other <= V + 1e-10).all())


def test_policy_evaluation_identities(mdp) -> None:
    tau = 0.3
    e = torch.rand(5, 4, 3, generator=gen(9), dtype=F64)
    pi = e / e.sum(-1, keepdim=True)
    Q, V = soft_policy_evaluation(mdp, pi, tau)
    Q_it, V_it = soft_policy_evaluation(mdp, pi, tau, method="iterate", tol=1e-13)
    assert torch.allclose(Q, Q_it, atol=1e-10) and torch.allclose(V, V_it, atol=1e-10)
    # V^π = Σ_a π Q^π + τ H(π) (eq. 23): Q leaves out the first entropy term
    assert torch.allclose(V, (pi * Q).sum(-1) + tau * entropy(pi), atol=1e-12)
    # Q^π is the fixed point of the fixed-policy backup
    assert torch.allclose(fixed_policy_backup(Q, mdp, pi, tau), Q, atol=1e-11)


def test_soft_policy_iteration_improves_and_converges(mdp) -> None:
    tau = torch.tensor([0.05, 0.2, 1.0, 3.0, 10.0], dtype=F64)
    e = torch.rand(5, 4, 3, generator=gen(10), dtype=F64)
    pi, Q, history = soft_policy_iteration(mdp, tau, pi0=e / e.sum(-1, keepdim=True), tol=1e-12)
    for Q_prev, Q_next in zip(history["Q"][:-1], history["Q"][1:]):
        assert float((Q_next - Q_prev).min()) >= -1e-10
    Q_star, _, _ = soft_value_iteration(mdp, tau, tol=1e-13)
    assert torch.allclose(Q, Q_star, atol=1e-9)
    assert torch.allclose(pi, maxent_policy(Q_star, tau), atol=1e-9)


def test_hard_limit_bound(mdp) -> None:
    _, V_hard, _ = value_iteration(mdp, tol=1e-13)
    g = mdp.gamma_tensor().unsqueeze(-1)
    for tau in (1e-3, 0.1, 1.0):
        _, V_soft, _ = soft_value_iteration(mdp, tau, tol=1e-13)
        gap = V_soft - V_hard
        assert bool((gap >= -1e-10).all()) and bool((gap <= tau * math.log(3) / (1 - g) + 1e-10).all())
    Q_hard, _, _ = value_iteration(mdp, tol=1e-13)
    assert float((hard_bellman_backup(Q_hard, mdp) - Q_hard).abs().max()) < 1e-10


def test_greedy_policy_breaks_ties_by_first_action() -> None:
    Q = torch.tensor([[[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]]], dtype=F64)
    assert torch.equal(greedy_policy(Q), torch.tensor([[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]], dtype=F64))


def test_boltzmann_backup_is_the_kl_convention(mdp) -> None:
    """Schulman et al.'s backup (eqs. 38-39) with a uniform reference has fixed point Q* − γτ log|A|/(1−γ)."""
    tau = 0.6
    Q_star, _, _ = soft_value_iteration(mdp, tau, tol=1e-13)
    g = mdp.gamma_tensor().view(-1, 1, 1)
    Q_kl = Q_star - g * tau * math.log(3) / (1 - g)
    assert torch.allclose(boltzmann_backup(Q_kl, mdp, tau), Q_kl, atol=1e-10)
    # with the reference π̄ = the Boltzmann policy of Q itself (a non-uniform log-prior) the formula still holds
    Q = torch.randn(5, 4, 3, generator=gen(11), dtype=F64)
    log_prior = torch.log_softmax(torch.randn(5, 4, 3, generator=gen(12), dtype=F64), dim=-1)
    V = tau * torch.logsumexp(Q / tau + log_prior, dim=-1)
    want = mdp.r + g * expected_next_value(mdp, V)
    assert torch.allclose(boltzmann_backup(Q, mdp, tau, log_prior=log_prior), want, atol=1e-12)


def test_n_step_backups(mdp) -> None:
    tau = 0.5
    Q = torch.randn(5, 4, 3, generator=gen(13), dtype=F64)
    assert torch.allclose(n_step_boltzmann_backup(Q, mdp, tau, 1), soft_bellman_backup(Q, mdp, tau), atol=1e-12)
    two_soft = soft_bellman_backup(soft_bellman_backup(Q, mdp, tau), mdp, tau)
    assert float((n_step_boltzmann_backup(Q, mdp, tau, 2) - two_soft).abs().max()) > 1e-3
    Q_star, _, _ = soft_value_iteration(mdp, tau, tol=1e-13)
    for n in (2, 5):
        assert torch.allclose(n_step_boltzmann_backup(Q_star, mdp, tau, n), Q_star, atol=1e-10)


@pytest.mark.parametrize("tau", [1e-4, 1e-2, 1.0, 1e2, 1e4])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_numerically_stable_at_extreme_temperatures_and_rewards(tau: float, dtype: torch.dtype) -> None:
    mdp = random_mdp(4, 5, 3, generator=gen(14), reward_scale=1e4, gamma=0.9).to(dtype=dtype)
    mdp_r = random_mdp(4, 5, 3, generator=gen(15), gamma=0.9)
    mdp_r = type(mdp_r)(P=mdp_r.P, r=torch.sign(mdp_r.r) * 1e4, gamma=0.9, mu0=mdp_r.mu0).to(dtype=dtype)
    f64 = dtype == torch.float64
    for m in (mdp, mdp_r):
        Q, V, info = soft_value_iteration(m, tau, tol=1e-10 if f64 else 1e-5, max_iter=2_000)
        pi = maxent_policy(Q, tau)
        for x in (Q, V, pi):
            assert bool(torch.isfinite(x).all())
        # in float32, Q/τ up to 1e8-1e9 has an ulp of order 1..100, so only float64 resolves π finely
        assert torch.allclose(pi.sum(-1), torch.ones_like(pi[..., 0]), atol=1e-9 if f64 else 1e-2)
        Q_pi, V_pi = soft_policy_evaluation(m, pi, tau)
        assert bool(torch.isfinite(Q_pi).all()) and bool(torch.isfinite(V_pi).all())
        _, Q_pi_it, _ = soft_policy_iteration(m, tau, max_iter=5)
        assert bool(torch.isfinite(Q_pi_it).all())
        assert bool(info["converged"].all())
        if f64:
            scale = float(Q.abs().max())
            assert float((soft_bellman_backup(Q, m, tau) - Q).abs().max()) <= 1e-10 * max(1.0, scale)


def test_bad_input_raises_config_error(mdp) -> None:
    Q = torch.zeros(5, 4, 3, dtype=F64)
    for tau in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError):
            soft_bellman_backup(Q, mdp, tau)
    with pytest.raises(ConfigError):
        soft_bellman_backup(Q, mdp, torch.tensor([1.0, -1.0, 1.0, 1.0, 1.0], dtype=F64))
    with pytest.raises(ConfigError):
        soft_bellman_backup(Q, mdp, torch.ones(3, dtype=F64))
    with pytest.raises(ConfigError):
        soft_bellman_backup(torch.zeros(5, 4, 2, dtype=F64), mdp, 1.0)
    with pytest.raises(ConfigError):
        soft_policy_evaluation(mdp, torch.full((5, 4, 3), 0.5, dtype=F64), 1.0)
    with pytest.raises(ConfigError):
        soft_policy_evaluation(mdp, torch.full((5, 4, 3), 1 / 3, dtype=F64), 1.0, method="magic")
    with pytest.raises(ConfigError):
        soft_value_iteration(mdp, 1.0, tol=0.0)
    with pytest.raises(ConfigError):
        n_step_boltzmann_backup(Q, mdp, 1.0, 0)


def test_non_finite_or_misshapen_q_is_refused_before_iterating() -> None:
    import time

    mdp = random_mdp(2, 4, 3, generator=torch.Generator().manual_seed(0), gamma=0.9, dtype=torch.float64)
    Q0 = torch.zeros(2, 4, 3, dtype=torch.float64)
    Q0[1, 2, 0] = float("nan")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="Q holds NaN or infinite values"):
        soft_value_iteration(mdp, 1.0, Q0=Q0)
    assert time.perf_counter() - start < 1.0  # refused at once, not after max_iter backups
    with pytest.raises(ConfigError, match=r"Q must have shape \[b, S, A\] = \(2, 4, 3\)"):
        soft_value_iteration(mdp, 1.0, Q0=torch.zeros(2, 3, 4, dtype=torch.float64))
    with pytest.raises(ConfigError, match="Q holds"):
        soft_bellman_backup(torch.full((2, 4, 3), float("inf"), dtype=torch.float64), mdp, 1.0)
