"""Tests of maxentrl.importance: the importance-sampled soft value of Haarnoja et al. (2017), eq. 10."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.experiments.ch02_soft_bellman import bimodal_q
from maxentrl.importance import (
    boltzmann_rejection_sample,
    log_importance_weights,
    log_partition_importance,
    soft_value_importance,
    soft_value_quadrature,
    tilted_proposal,
    uniform_proposal,
)

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_quadrature_against_closed_forms() -> None:
    # constant Q = c on [−1, 1]: V = c + τ log 2
    assert abs(soft_value_quadrature(lambda a: torch.full_like(a, 0.3), 0.5, -1, 1) - (0.3 + 0.5 * math.log(2))) < 1e-12
    # Q = a on [0, 1]: ∫ exp(a/τ) = τ (e^{1/τ} − 1)
    tau = 0.25
    want = tau * math.log(tau * (math.exp(1 / tau) - 1))
    assert abs(soft_value_quadrature(lambda a: a, tau, 0, 1) - want) < 1e-12
    with pytest.raises(ConfigError):
        soft_value_quadrature(lambda a: a, tau, 0, 1, n_points=10)


def test_estimator_formula_and_single_sample() -> None:
    Q = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    log_q = torch.tensor([[-0.5, -0.7, -0.1]], dtype=F64)
    tau = 0.4
    lw = log_importance_weights(Q, log_q, tau)
    assert torch.allclose(lw, Q / tau - log_q)
    V = soft_value_importance(Q, log_q, tau)
    assert torch.allclose(V, tau * torch.log(torch.exp(Q / tau - log_q).mean(-1)))
    assert torch.allclose(log_partition_importance(Q, log_q, tau), V / tau)


@pytest.mark.parametrize("name", ["uniform", "tilted"])
def test_unbiased_in_exp_space_and_biased_low_in_log_space(name: str) -> None:
    tau = 0.5
    V = soft_value_quadrature(bimodal_q, tau, -1, 1)
    shape = (40_000, 4)
    if name == "uniform":
        a, log_q = uniform_proposal(shape, -1, 1, generator=gen(1))
    else:
        a, log_q = tilted_proposal(shape, -1, 1, slope=-0.9, generator=gen(1))
    ratio = torch.exp(log_partition_importance(bimodal_q(a), log_q, tau) - V / tau)
    se = float(ratio.std()) / math.sqrt(shape[0])
    assert abs(float(ratio.mean()) - 1) < 4 * se
    V_hat = soft_value_importance(bimodal_q(a), log_q, tau)
    assert float(V_hat.mean()) < V - 10 * float(V_hat.std()) / math.sqrt(shape[0])  # Jensen: biased low


def test_boltzmann_proposal_has_zero_variance() -> None:
    tau = 0.5
    V = soft_value_quadrature(bimodal_q, tau, -1, 1)
    a = boltzmann_rejection_sample(bimodal_q, tau, -1, 1, 5000, lipschitz=25.0, generator=gen(2)).reshape(1000, 5)
    log_q = (bimodal_q(a) - V) / tau
    V_hat = soft_value_importance(bimodal_q(a), log_q, tau)
    assert float((V_hat - V).abs().max()) < 1e-12


def test_rejection_sampler_draws_from_the_boltzmann_density() -> None:
    tau = 0.5
    a = boltzmann_rejection_sample(bimodal_q, tau, -1, 1, 200_000, lipschitz=25.0, generator=gen(3))
    assert a.shape == (200_000,) and float(a.min()) >= -1 and float(a.max()) <= 1
    # the mean E_π[a] by quadrature: ∫ a exp(Q/τ) / ∫ exp(Q/τ)
    grid = torch.linspace(-1, 1, 400_001, dtype=F64)
    w = torch.exp(bimodal_q(grid) / tau)
    mean = float((grid * w).sum() / w.sum())
    assert abs(float(a.mean()) - mean) < 4 * float(a.std()) / math.sqrt(200_000)
    with pytest.raises(ConfigError, match="upper bound"):
        boltzmann_rejection_sample(bimodal_q, tau, -1, 1, 1000, lipschitz=1e-9, n_bins=4, generator=gen(4))


def test_tilted_proposal_density() -> None:
    a, log_q = tilted_proposal((400_000,), -1, 1, slope=0.6, generator=gen(5))
    assert abs(float(a.mean()) - 0.6 / 3) < 4 * float(a.std()) / math.sqrt(400_000)
    assert torch.allclose(log_q, torch.log((1 + 0.6 * a) / 2), atol=1e-12)
    # mapped onto [2, 6]: E[1/q] = width
    a2, log_q2 = tilted_proposal((400_000,), 2, 6, slope=0.6, generator=gen(6))
    assert float(a2.min()) >= 2 and float(a2.max()) <= 6
    assert abs(float(torch.exp(-log_q2).mean()) - 4) < 0.05
    with pytest.raises(ConfigError):
        tilted_proposal((3,), -1, 1, slope=1.0, generator=gen())


def test_zero_density_is_rejected() -> None:
    Q = torch.zeros(2, 3, dtype=F64)
    with pytest.raises(ConfigError):
        log_importance_weights(Q, torch.full_like(Q, -math.inf), 1.0)
    with pytest.raises(ConfigError):
        log_importance_weights(Q, torch.zeros(2, 4, dtype=F64), 1.0)
    with pytest.raises(ConfigError):
        soft_value_importance(Q, torch.zeros_like(Q), 0.0)


def test_non_finite_q_samples_are_refused() -> None:
    Q = torch.tensor([[0.0, float("nan")]], dtype=torch.float64)
    with pytest.raises(ConfigError, match="Q_samples holds NaN"):
        soft_value_importance(Q, torch.zeros_like(Q), 1.0)
