"""Eqs. 23 and 65 of Schulman et al. (2017) hold exactly in float64, and only where the paper says they do."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.mdp import random_mdp
from maxentrl.pg_soft_q import (
    bandit_gradient_terms,
    enumerate_paths,
    linear_q,
    mlp_parameter_count,
    mlp_q,
    n_step_soft_td,
    per_path_gradients,
    policy_gradient_surrogate,
    soft_q_regression_loss,
    soft_q_target,
    soft_value_and_log_policy,
)

D = torch.float64


def _bandit(gen, A=5, K=3, k=4):
    phi = torch.randn(A, k, generator=gen, dtype=D)
    rewards = torch.randn(A, K, generator=gen, dtype=D)
    probs = torch.rand(A, K, generator=gen, dtype=D) + 0.1
    probs = probs / probs.sum(-1, keepdim=True)
    log_prior = torch.log_softmax(torch.randn(A, generator=gen, dtype=D), -1)
    return phi, rewards, probs, log_prior


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_bandit_identity_eq23(kind: str) -> None:
    gen = torch.Generator().manual_seed(1)
    for tau in (0.01, 0.3, 1.0, 7.0):
        phi, rewards, probs, log_prior = _bandit(gen)
        if kind == "linear":
            theta, fn = tau * torch.randn(4, generator=gen, dtype=D), (lambda th: linear_q(th, phi))
        else:  # q of size ~ tau: the policy is neither uniform nor deterministic
            theta = torch.randn(mlp_parameter_count(4, 6), generator=gen, dtype=D)
            theta[-7:] *= tau
            fn = lambda th: mlp_q(th, phi, hidden=6)  # noqa: E731
        t = bandit_gradient_terms(fn, theta, rewards, probs, log_prior, tau)
        lhs, rhs = t["squared_error"], t["policy_gradient"] + t["value_error"]
        assert float((lhs - rhs).abs().max()) < 1e-12 * max(1.0, float(lhs.abs().max()))
        assert float(t["policy_gradient"].abs().max()) > 1e-3  # both terms matter: the identity is not 0 = 0
        assert float(t["value_error"].abs().max()) > 1e-3


def test_bandit_policy_gradient_term_is_minus_tau_grad_eta_by_finite_differences() -> None:
    gen = torch.Generator().manual_seed(2)
    phi, rewards, probs, log_prior = _bandit(gen)
    tau = 0.5
    theta = torch.randn(4, generator=gen, dtype=D)
    r_bar = (rewards * probs).sum(-1)

    def eta(th):
        q = linear_q(th, phi)
        log_pi = torch.log_softmax(q / tau + log_prior, -1)
        pi = log_pi.exp()
        return float((pi * r_bar).sum() - tau * (pi * (log_pi - log_prior)).sum())

    g = bandit_gradient_terms(lambda th: linear_q(th, phi), theta, rewards, probs, log_prior, tau)["policy_gradient"]
    h = 1e-6
    fd = torch.tensor([(eta(theta + h * e) - eta(theta - h * e)) / (2 * h) for e in torch.eye(4, dtype=D)], dtype=D)
    assert torch.allclose(g, -tau * fd, atol=1e-8)


def _mdp_setup(seed, S=3, A=2, k=4, h=5, tau=0.7):
    gen = torch.Generator().manual_seed(seed)
    mdp = random_mdp(1, S, A, generator=gen, gamma=0.8)
    phi = torch.randn(S, A, k, generator=gen, dtype=D)
    theta = torch.randn(mlp_parameter_count(k, h), generator=gen, dtype=D)
    log_prior = torch.log_softmax(torch.randn(S, A, generator=gen, dtype=D), -1)
    d = torch.rand(S, generator=gen, dtype=D) + 0.1
    return mdp.P[0], mdp.r[0], phi, theta, log_prior, d / d.sum(), tau, (lambda th: mlp_q(th, phi, hidden=h))


def _sides(P, r, theta, log_prior, d, tau, q_fn, n, *, behaviour=None):
    th = theta.clone().requires_grad_(True)
    Q = q_fn(th)
    V, log_pi, kl = soft_value_and_log_policy(Q, tau, log_prior)
    pi = log_pi.exp().detach() if behaviour is None else behaviour
    paths = enumerate_paths(P, pi, d, n)
    st, ac, w = paths.states, paths.actions, paths.weight
    Delta = n_step_soft_td(r[st[:, :-1], ac], kl.detach()[st[:, :-1]], V.detach()[st], 0.8, tau)
    s0, a0 = st[:, 0], ac[:, 0]
    y = soft_q_target(kl.detach()[s0], V.detach()[s0], Delta, tau)
    (gq,) = torch.autograd.grad(soft_q_regression_loss(Q[s0, a0], y, w), th, retain_graph=True)
    (gp,) = torch.autograd.grad(policy_gradient_surrogate(log_pi[s0, a0], kl[s0], V[s0], Delta, w, tau), th)
    return gq, gp, paths, Q.detach(), Delta


@pytest.mark.parametrize("n", [1, 2, 3])
def test_mdp_identity_eq65_exact(n: int) -> None:
    P, r, _, theta, log_prior, d, tau, q_fn = _mdp_setup(3)
    gq, gp, _, _, _ = _sides(P, r, theta, log_prior, d, tau, q_fn, n)
    assert float((gq - gp).abs().max()) < 1e-12
    assert float(gq.abs().max()) > 1e-3


def test_mdp_identity_needs_the_boltzmann_policy_at_the_first_step() -> None:
    """Sampled from another policy, the two gradients differ: the identity is not a tautology of the code."""
    P, r, _, theta, log_prior, d, tau, q_fn = _mdp_setup(4)
    other = torch.full((3, 2), 0.5, dtype=D)
    gq, gp, _, _, _ = _sides(P, r, theta, log_prior, d, tau, q_fn, 2, behaviour=other)
    assert float((gq - gp).abs().max()) > 1e-3


def test_paths_weights_sum_to_one_and_reproduce_the_n_step_state_distribution() -> None:
    P, r, _, theta, log_prior, d, tau, q_fn = _mdp_setup(5)
    pi = torch.softmax(q_fn(theta) / tau + log_prior, -1)
    paths = enumerate_paths(P, pi, d, 3)
    assert abs(float(paths.weight.sum()) - 1) < 1e-12
    P_pi = torch.einsum("sa,sat->st", pi, P)
    want = d @ torch.linalg.matrix_power(P_pi, 3)
    got = torch.zeros(3, dtype=D).index_add_(0, paths.states[:, -1], paths.weight)
    assert torch.allclose(got, want, atol=1e-14)


def test_n_step_td_telescopes() -> None:
    gen = torch.Generator().manual_seed(6)
    r, kl, V = torch.randn(7, 4, generator=gen, dtype=D), torch.rand(7, 4, generator=gen, dtype=D), torch.randn(7, 5, generator=gen, dtype=D)
    g, tau = 0.9, 0.3
    Delta = n_step_soft_td(r, kl, V, g, tau)
    disc = g ** torch.arange(4, dtype=D)
    assert torch.allclose(Delta, ((r - tau * kl) * disc).sum(-1) + g**4 * V[:, -1] - V[:, 0], atol=1e-13)


def test_per_path_gradients_average_to_both_sides() -> None:
    P, r, _, theta, log_prior, d, tau, q_fn = _mdp_setup(7)
    gq, gp, paths, Q, Delta = _sides(P, r, theta, log_prior, d, tau, q_fn, 2)
    J = torch.func.jacrev(q_fn)(theta)
    hq, hp = per_path_gradients(J, paths, Q, Delta, log_prior, tau)
    assert torch.allclose(paths.weight @ hq, gq, atol=1e-13)
    assert torch.allclose(paths.weight @ hp, gp, atol=1e-13)
    assert float((hq - hp).abs().max()) > 1e-3  # the single-sample estimators differ; only their means agree


def test_bad_inputs_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        linear_q(torch.zeros(3, dtype=D), torch.zeros(2, 4, dtype=D))
    with pytest.raises(ConfigError):
        mlp_q(torch.zeros(5, dtype=D), torch.zeros(2, 4, dtype=D), hidden=3)
    with pytest.raises(ConfigError):
        enumerate_paths(torch.zeros(3, 2, 3, dtype=D), torch.zeros(3, 2, dtype=D), torch.zeros(4, dtype=D), 2)
    with pytest.raises(ConfigError):
        enumerate_paths(torch.zeros(3, 2, 3, dtype=D), torch.zeros(3, 2, dtype=D), torch.zeros(3, dtype=D), 0)
    with pytest.raises(ConfigError):
        bandit_gradient_terms(lambda th: th, torch.zeros(3, dtype=D), torch.zeros(3, 1, dtype=D),
                              torch.ones(3, 1, dtype=D), torch.zeros(3, dtype=D), -1.0)
