"""Tests of maxentrl.damped_soft_q: the damped target, tabular damped soft Q-iteration and the regression step."""

from __future__ import annotations

import pytest
import torch

from maxentrl.damped_soft_q import damped_soft_q_iteration, damped_soft_q_step, damped_target, fit_soft_q, soft_q_loss
from maxentrl.errors import ConfigError
from maxentrl.mdp import random_mdp
from maxentrl.natural_gradient import natural_gradient_lstsq
from maxentrl.npg import discounted_visitation, entropy_regularized_npg, soft_advantage
from maxentrl.soft_bellman import soft_policy_evaluation, soft_policy_iteration
from maxentrl.softmax_policy import MLPPolicy, log_policy, score, tabular_jacobian, tabular_logits

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_damped_target_interpolates() -> None:
    Q_old = torch.randn(2, 3, 4, generator=gen(1), dtype=F64)
    Q_hat = torch.randn(2, 3, 4, generator=gen(2), dtype=F64)
    assert torch.allclose(damped_target(Q_old, Q_hat, 0.25), 0.75 * Q_old + 0.25 * Q_hat)
    assert torch.equal(damped_target(Q_old, Q_hat, 1.0), Q_hat)
    eps = torch.tensor([0.5, 1.0], dtype=F64)
    assert torch.allclose(damped_target(Q_old, Q_hat, eps)[0], 0.5 * (Q_old[0] + Q_hat[0]))


@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0])
def test_tabular_damped_soft_q_iteration_is_npg(eps: float) -> None:
    """Q ← (1−ε)Q + εQ^{π_Q} gives the policies of NPG with η = ε(1−γ)/τ; ε = 1 is soft policy iteration."""
    b, S, A, tau, gamma = 3, 5, 3, 0.4, 0.9
    mdp = random_mdp(b, S, A, generator=gen(3), gamma=gamma)
    e = torch.rand(b, S, A, generator=gen(4), dtype=F64) + 0.05
    pi0 = e / e.sum(-1, keepdim=True)
    _, hist = damped_soft_q_iteration(mdp, tau, eps, iterations=8, Q0=tau * torch.log(pi0), keep_history=True)
    _, _, npg = entropy_regularized_npg(mdp, tau, eps * (1 - gamma) / tau, iterations=8, pi0=pi0, keep_history=True)
    for k in range(9):
        assert torch.allclose(hist["pi"][k], npg["log_pi"][k].exp(), atol=1e-12)
    if eps == 1.0:
        _, _, spi = soft_policy_iteration(mdp, tau, pi0=pi0, tol=0.0, max_iter=8)
        for k in range(9):
            assert torch.allclose(hist["pi"][k], spi["pi"][k], atol=1e-12)


def _network_problem(b: int = 3):
    S, A, tau = 5, 3, 0.5
    mdp = random_mdp(b, S, A, generator=gen(5), gamma=0.9)
    net = MLPPolicy(n_features=3, n_hidden=5, n_actions=A)
    x = torch.randn(b, S, 3, generator=gen(6), dtype=F64)
    theta = net.init(b, generator=gen(7))

    def fn(t):
        return net.logits(t, x)

    def jf(t):
        return net.jacobian(t, x)

    pi = torch.softmax(fn(theta), -1)
    Q, V = soft_policy_evaluation(mdp, pi, tau)
    W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
    return fn, jf, theta, pi, Q, V, W, tau


def test_first_gauss_newton_step_is_the_natural_gradient_step() -> None:
    fn, jf, theta, pi, Q, V, W, tau = _network_problem()
    eps = 1e-3
    one, _ = damped_soft_q_step(fn, jf, theta, V, Q, W, tau, eps, max_iter=1)
    w = natural_gradient_lstsq(score(jf(theta), pi), soft_advantage(Q, pi, tau), W, step=eps / tau)
    assert torch.allclose(one - theta, w, atol=1e-12)


def test_solved_damped_step_is_a_stationary_point_and_close_to_npg() -> None:
    fn, jf, theta, pi, Q, V, W, tau = _network_problem()
    eps = 1e-3
    solved, info = damped_soft_q_step(fn, jf, theta, V, Q, W, tau, eps, max_iter=100, tol=1e-15)
    assert bool(info["converged"].all())
    target = damped_target(V.unsqueeze(-1) + tau * torch.log(pi), Q, eps)
    th = solved.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(soft_q_loss(log_policy(fn(th)), V, target, W, tau).sum(), th)
    assert float(grad.abs().max()) < 1e-13
    w = natural_gradient_lstsq(score(jf(theta), pi), soft_advantage(Q, pi, tau), W, step=eps / tau)
    diff = (log_policy(fn(solved)) - log_policy(fn(theta + w))).abs().max()
    step = (log_policy(fn(theta + w)) - torch.log(pi)).abs().max()
    assert float(diff) < 0.05 * float(step)  # second order: much smaller than the step itself


def test_undamped_gradient_is_minus_tau_times_the_policy_gradient() -> None:
    """Chapter 4's first-order equivalence, with V held fixed: ∇θ ½ΣW(V + τ log π_θ − Q^π)² = −τ g."""
    fn, jf, theta, pi, Q, V, W, tau = _network_problem()
    th = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(soft_q_loss(log_policy(fn(th)), V, Q, W, tau).sum(), th)
    g = torch.einsum("bsa,bsap,bsa->bp", W, score(jf(theta), pi), soft_advantage(Q, pi, tau))
    assert torch.allclose(grad, -tau * g, atol=1e-13)


def test_fit_soft_q_with_a_table_reaches_the_target_policy_shape() -> None:
    b, S, A, tau = 2, 3, 4, 0.5
    theta = torch.zeros(b, S * A, dtype=F64)
    jac = tabular_jacobian(b, S, A)
    target_lp = torch.log_softmax(torch.randn(b, S, A, generator=gen(8), dtype=F64), -1)
    V = torch.randn(b, S, generator=gen(9), dtype=F64)
    W = torch.full((b, S, A), 1.0 / (S * A), dtype=F64)
    solved, info = fit_soft_q(lambda t: tabular_logits(t, S, A), lambda t: jac, theta, V,
                              V.unsqueeze(-1) + tau * target_lp, W, tau, max_iter=50, ridge=1e-9)
    assert bool(info["converged"].all())
    assert torch.allclose(log_policy(tabular_logits(solved, S, A)), target_lp, atol=1e-8)
    assert float(info["loss"].max()) < 1e-16


@pytest.mark.parametrize(
    "bad",
    [
        lambda: damped_target(torch.zeros(1, 2, 2, dtype=F64), torch.zeros(1, 2, 2, dtype=F64), 0.0),
        lambda: damped_target(torch.zeros(1, 2, 2, dtype=F64), torch.zeros(1, 2, 2, dtype=F64), 1.5),
        lambda: damped_target(torch.zeros(1, 2, 2, dtype=F64), torch.zeros(1, 2, 3, dtype=F64), 0.5),
        lambda: damped_soft_q_iteration(random_mdp(1, 2, 2, generator=gen()), 1.0, 0.5, iterations=-1),
        lambda: soft_q_loss(torch.zeros(1, 2, 2, dtype=F64), torch.zeros(1, 3, dtype=F64), torch.zeros(1, 2, 2, dtype=F64),
                            torch.ones(1, 2, 2, dtype=F64), 1.0),
        lambda: fit_soft_q(lambda t: t.reshape(1, 1, 2), lambda t: torch.eye(2, dtype=F64).reshape(1, 1, 2, 2),
                           torch.zeros(1, 2, dtype=F64), torch.zeros(1, 1, dtype=F64), torch.zeros(1, 1, 2, dtype=F64),
                           torch.ones(1, 1, 2, dtype=F64), 1.0, ridge=-1.0),
    ],
)
def test_bad_input_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError):
        bad()


@pytest.mark.parametrize("eps", [0.2, 1.0])
def test_table_with_a_fitted_value_is_exactly_npg(eps: float) -> None:
    """With V fitted too, a table of logits reaches the damped target exactly: π_new ∝ π^{1−ε} exp(εQ̂/τ)."""
    b, S, A, tau = 2, 4, 3, 0.5
    mdp = random_mdp(b, S, A, generator=gen(10), gamma=0.9)
    e = torch.rand(b, S, A, generator=gen(11), dtype=F64) + 0.1
    pi = e / e.sum(-1, keepdim=True)
    Q, V = soft_policy_evaluation(mdp, pi, tau)
    Q_hat = Q + 0.3 * torch.randn(Q.shape, generator=gen(12), dtype=F64)  # a noisy backed-up value
    W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
    jac = tabular_jacobian(b, S, A)
    theta = torch.log(pi).reshape(b, -1)
    new, info = damped_soft_q_step(lambda t: tabular_logits(t, S, A), lambda t: jac, theta, V, Q_hat, W, tau, eps,
                                   fit_value=True, max_iter=100, tol=1e-15)
    want = torch.log_softmax((1 - eps) * torch.log(pi) + eps * Q_hat / tau, dim=-1)
    assert torch.allclose(log_policy(tabular_logits(new, S, A)), want, atol=1e-10)
    assert float(info["loss"].max()) < 1e-20
