"""maxentrl.boltzmann: the soft maximum and the Boltzmann policy, in float64 with autograd."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.boltzmann import (
    boltzmann_log_policy,
    boltzmann_policy,
    entropy,
    kl_divergence,
    regularized_objective,
    soft_maximum,
)
from maxentrl.errors import ConfigError

F64 = torch.float64


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("tau", [0.05, 0.7, 3.0])
def test_gradient_of_soft_maximum_is_boltzmann_policy(tau: float) -> None:
    # d/dx_a τ log E_π̄[exp(x/τ)] = π^B(a), for a uniform and for a random reference.
    x = _rand(5, 7).requires_grad_(True)
    log_prior = torch.log_softmax(_rand(5, 7, seed=1), -1)
    for lp in (None, log_prior):
        (grad,) = torch.autograd.grad(soft_maximum(x, tau, log_prior=lp).sum(), x)
        torch.testing.assert_close(grad, boltzmann_policy(x.detach(), tau, log_prior=lp), rtol=1e-12, atol=1e-14)


def test_gradient_with_respect_to_tau_is_entropy_term() -> None:
    # d/dτ [τ log E_π̄ exp(x/τ)] = −D_KL[π^B ‖ π̄]: the soft maximum decreases with τ.
    x = _rand(4, 6)
    log_prior = torch.log_softmax(_rand(4, 6, seed=2), -1)
    tau = torch.full((4,), 0.8, dtype=F64, requires_grad=True)
    (dtau,) = torch.autograd.grad(soft_maximum(x, tau, log_prior=log_prior).sum(), tau)
    pi_B = boltzmann_policy(x, 0.8, log_prior=log_prior)
    torch.testing.assert_close(dtau, -kl_divergence(pi_B, log_prior.exp()), rtol=1e-10, atol=1e-12)


def test_soft_maximum_bounds_and_limits() -> None:
    # max − τ log|A| ≤ τ log mean exp(x/τ) ≤ max for the uniform reference, and the plain
    # log-sum-exp lies in [max, max + τ log|A|]; τ → 0 gives the max, τ → ∞ the mean.
    x = _rand(8, 5)
    A = x.shape[-1]
    mx, mean = x.max(-1).values, x.mean(-1)
    for tau in (1e-3, 0.1, 1.0, 10.0):
        plain = soft_maximum(x, tau, log_prior=torch.zeros_like(x))
        assert torch.all(plain >= mx - 1e-12) and torch.all(plain <= mx + tau * math.log(A) + 1e-12)
        uniform = soft_maximum(x, tau)
        torch.testing.assert_close(uniform, plain - tau * math.log(A), rtol=0, atol=1e-12)
        assert torch.all(uniform >= mean - 1e-12) and torch.all(uniform <= mx + 1e-12)
    torch.testing.assert_close(soft_maximum(x, 1e-6), mx, rtol=0, atol=1e-5)
    torch.testing.assert_close(soft_maximum(x, 1e7), mean, rtol=0, atol=1e-6)
    # it is monotone: a larger τ never gives a larger value (uniform reference)
    values = torch.stack([soft_maximum(x, t) for t in (0.01, 0.1, 1.0, 10.0)])
    assert torch.all(values[1:] <= values[:-1] + 1e-12)


@pytest.mark.parametrize("tau", [1e-8, 1e-3, 1e3, 1e8])
def test_no_nan_or_inf_at_extreme_temperatures(tau: float) -> None:
    x = torch.tensor([[1e3, -1e3, 0.0, 5.0], [700.0, 710.0, 720.0, -750.0]], dtype=F64)
    for fn in (soft_maximum, boltzmann_policy, boltzmann_log_policy):
        out = fn(x, tau)
        if fn is boltzmann_log_policy:
            assert not torch.any(torch.isnan(out))
        else:
            assert torch.all(torch.isfinite(out))
    pi = boltzmann_policy(x, tau)
    torch.testing.assert_close(pi.sum(-1), torch.ones(2, dtype=F64))


def test_policy_matches_softmax_and_log_policy() -> None:
    x = _rand(3, 9)
    torch.testing.assert_close(boltzmann_policy(x, 0.5), torch.softmax(x / 0.5, -1), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(boltzmann_log_policy(x, 0.5).exp(), boltzmann_policy(x, 0.5))


def test_per_row_temperatures_broadcast() -> None:
    x = _rand(3, 4)
    tau = torch.tensor([0.1, 1.0, 10.0], dtype=F64)
    together = soft_maximum(x, tau)
    one_by_one = torch.stack([soft_maximum(x[i], float(tau[i])) for i in range(3)])
    torch.testing.assert_close(together, one_by_one, rtol=1e-13, atol=1e-14)


def test_s6_identity() -> None:
    # Schulman et al. (2017), eq. 6: E_π r̄ − τ KL[π‖π̄] = τ log E_π̄ exp(r̄/τ) − τ KL[π‖π^B].
    r = _rand(50, 6, seed=3)
    pi = torch.softmax(_rand(50, 6, seed=4), -1)
    log_prior = torch.log_softmax(_rand(50, 6, seed=5), -1)
    for tau in (0.1, 1.0, 5.0):
        lhs = regularized_objective(pi, r, tau, prior=log_prior.exp())
        pi_B = boltzmann_policy(r, tau, log_prior=log_prior)
        rhs = soft_maximum(r, tau, log_prior=log_prior) - tau * kl_divergence(pi, pi_B)
        torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
        # and the maximum is attained at π^B
        best = regularized_objective(pi_B, r, tau, prior=log_prior.exp())
        assert torch.all(best >= lhs - 1e-12)


def test_entropy_and_kl_basic_values() -> None:
    p = torch.tensor([0.5, 0.5, 0.0], dtype=F64)
    assert abs(float(entropy(p)) - math.log(2)) < 1e-15
    assert float(kl_divergence(p, p)) == 0.0
    u = torch.full((3,), 1 / 3, dtype=F64)
    assert abs(float(kl_divergence(p, u)) - math.log(1.5)) < 1e-15


@pytest.mark.parametrize("tau", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_temperature_raises(tau: float) -> None:
    with pytest.raises(ConfigError):
        soft_maximum(torch.zeros(3, dtype=F64), tau)
    with pytest.raises(ConfigError):
        boltzmann_policy(torch.zeros(3, dtype=F64), torch.tensor([tau]))


def test_log_prior_that_does_not_broadcast_is_refused() -> None:
    x = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.raises(ConfigError, match=r"log_prior of shape \(5,\) does not broadcast"):
        soft_maximum(x, 1.0, log_prior=torch.zeros(5, dtype=torch.float64))
