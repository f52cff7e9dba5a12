"""Tests of maxentrl.npg: exact entropy-regularized NPG on tabular MDPs and Cen et al.'s Theorem 1."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.mdp import random_mdp, state_visitation
from maxentrl.natural_gradient import natural_gradient_lstsq
from maxentrl.npg import (
    cen_bound,
    cen_constant,
    check_step_size,
    discounted_visitation,
    entropy_regularized_npg,
    npg_update,
    soft_advantage,
)
from maxentrl.soft_bellman import maxent_policy, soft_policy_evaluation, soft_policy_iteration, soft_value_iteration
from maxentrl.softmax_policy import score, tabular_jacobian

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_policy(b, S, A, seed):
    e = torch.rand(b, S, A, generator=gen(seed), dtype=F64) + 0.02
    return e / e.sum(-1, keepdim=True)


def test_discounted_visitation_matches_the_forward_recursion() -> None:
    mdp = random_mdp(3, 5, 3, generator=gen(1), gamma=0.8)
    pi = random_policy(3, 5, 3, 2)
    d = discounted_visitation(mdp, pi)
    ref = (1 - 0.8) * state_visitation(mdp, pi, horizon=400, discounted=True)
    assert torch.allclose(d, ref, atol=1e-12)
    assert torch.allclose(d.sum(-1), torch.ones(3, dtype=F64))


def test_soft_advantage_has_zero_policy_mean() -> None:
    mdp = random_mdp(2, 4, 3, generator=gen(3), gamma=0.9)
    pi = random_policy(2, 4, 3, 4)
    Q, V = soft_policy_evaluation(mdp, pi, 0.5)
    A = soft_advantage(Q, pi, 0.5)
    assert torch.allclose((pi * A).sum(-1), torch.zeros(2, 4, dtype=F64), atol=1e-12)
    # Q − τ log π − A is V^π, chapter 2's soft value of the policy
    assert torch.allclose(Q - 0.5 * torch.log(pi) - A, V.unsqueeze(-1).expand_as(Q), atol=1e-12)


def test_update_is_the_natural_gradient_step_on_the_logits() -> None:
    """Cen et al.'s eq. 17 is θ + η/(1−γ) · F⁺g for a table of logits (here with F⁺g from least squares)."""
    b, S, A, tau, gamma = 2, 4, 3, 0.7, 0.85
    mdp = random_mdp(b, S, A, generator=gen(5), gamma=gamma)
    pi = random_policy(b, S, A, 6)
    Q, _ = soft_policy_evaluation(mdp, pi, tau)
    W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
    eta = 0.3 * (1 - gamma) / tau
    w = natural_gradient_lstsq(score(tabular_jacobian(b, S, A), pi), soft_advantage(Q, pi, tau), W,
                               step=eta / (1 - gamma))
    logits = torch.log(pi) + w.reshape(b, S, A)
    expected = logits - torch.logsumexp(logits, -1, keepdim=True)
    assert torch.allclose(npg_update(torch.log(pi), Q, tau, eta, gamma), expected, atol=1e-12)


def test_largest_step_is_soft_policy_iteration() -> None:
    b, S, A, tau, gamma = 3, 5, 4, 0.3, 0.9
    mdp = random_mdp(b, S, A, generator=gen(7), gamma=gamma)
    pi0 = random_policy(b, S, A, 8)
    Q, _ = soft_policy_evaluation(mdp, pi0, tau)
    new = npg_update(torch.log(pi0), Q, tau, (1 - gamma) / tau, gamma)
    assert torch.allclose(new.exp(), maxent_policy(Q, tau), atol=1e-13)
    _, _, npg = entropy_regularized_npg(mdp, tau, (1 - gamma) / tau, iterations=6, pi0=pi0, keep_history=True)
    _, _, spi = soft_policy_iteration(mdp, tau, pi0=pi0, tol=0.0, max_iter=6)
    for k in range(7):
        assert torch.allclose(npg["log_pi"][k].exp(), spi["pi"][k], atol=1e-11)


@pytest.mark.parametrize("fraction", [0.05, 0.4, 1.0])
def test_errors_stay_under_theorem_one(fraction: float) -> None:
    b, S, A = 16, 5, 3
    mdp = random_mdp(b, S, A, generator=gen(9), gamma=(0.5, 0.95))
    tau = 10 ** (torch.rand(b, generator=gen(10), dtype=F64) * 2 - 1.5)
    gamma = mdp.gamma_tensor()
    pi0 = random_policy(b, S, A, 11)
    Q_star, _, _ = soft_value_iteration(mdp, tau, tol=1e-14)
    log_pi_star = torch.log(maxent_policy(Q_star, tau))
    eta = fraction * (1 - gamma) / tau
    T = 40
    _, _, hist = entropy_regularized_npg(mdp, tau, eta, iterations=T, pi0=pi0, reference=(Q_star, log_pi_star))
    Q0, _ = soft_policy_evaluation(mdp, pi0, tau)
    C1 = cen_constant(Q_star, Q0, log_pi_star, torch.log(pi0), tau, eta, gamma)
    q_bound, lp_bound = cen_bound(C1, tau, eta, gamma, torch.arange(T, dtype=F64))
    q_err, lp_err = hist["q_error"][1:], hist["log_pi_error"][1:]
    assert bool((q_err <= q_bound + 1e-11).all())
    assert bool((lp_err <= lp_bound + 1e-11).all())
    assert hist["q_error"].shape == (T + 1, b)


def test_cen_constant_and_bound_by_hand() -> None:
    Q_star = torch.tensor([[[1.0, 2.0]]], dtype=F64)
    Q0 = torch.tensor([[[0.5, 2.0]]], dtype=F64)
    lps = torch.log(torch.tensor([[[0.25, 0.75]]], dtype=F64))
    lp0 = torch.log(torch.tensor([[[0.5, 0.5]]], dtype=F64))
    tau, gamma, eta = 0.5, 0.8, 0.2
    C1 = cen_constant(Q_star, Q0, lps, lp0, tau, eta, gamma)
    expected = 0.5 + 2 * tau * (1 - eta * tau / (1 - gamma)) * math.log(2.0)
    assert math.isclose(float(C1), expected, rel_tol=1e-14)
    q_b, lp_b = cen_bound(C1, tau, eta, gamma, torch.tensor([0.0, 3.0], dtype=F64))
    assert math.isclose(float(q_b[1, 0]), expected * gamma * (1 - eta * tau) ** 3, rel_tol=1e-14)
    assert math.isclose(float(lp_b[0, 0]), 2 * expected / tau, rel_tol=1e-14)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: check_step_size(0.0, 1.0, 0.9),
        lambda: check_step_size(0.2, 1.0, 0.9),  # above (1 − γ)/τ = 0.1
        lambda: npg_update(torch.zeros(1, 2, 2, dtype=F64), torch.zeros(1, 2, 3, dtype=F64), 1.0, 0.05, 0.9),
        lambda: soft_advantage(torch.zeros(1, 2, 2, dtype=F64), torch.tensor([[[1.0, 0.0], [0.5, 0.5]]], dtype=F64), 1.0),
        lambda: entropy_regularized_npg(random_mdp(1, 2, 2, generator=gen()), 1.0, 0.05, iterations=-1),
        lambda: entropy_regularized_npg(random_mdp(1, 2, 2, generator=gen()), 1.0, 0.05, iterations=2,
                                        pi0=torch.tensor([[[1.0, 0.0], [0.5, 0.5]]], dtype=F64)),
    ],
)
def test_bad_input_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError):
        bad()
