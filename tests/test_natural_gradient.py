"""Tests of maxentrl.natural_gradient: the Fisher matrix, the policy gradient and three natural-gradient solves."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.mdp import random_mdp
from maxentrl.natural_gradient import (
    conjugate_gradient,
    fisher_matrix,
    fisher_vector_product,
    natural_gradient_cg,
    natural_gradient_explicit,
    natural_gradient_lstsq,
    policy_gradient,
    score_weighted_sum,
    tabular_natural_gradient,
)
from maxentrl.npg import discounted_visitation, soft_advantage
from maxentrl.soft_bellman import soft_policy_evaluation
from maxentrl.softmax_policy import MLPPolicy, log_policy, score, tabular_jacobian, tabular_logits

F64 = torch.float64
TAU = 0.4


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm(dim=-1) / b.norm(dim=-1)).max())


@pytest.fixture
def network_problem():
    """Random MDPs, random features and a small network with more parameters than policy degrees of freedom."""
    b, S, A = 4, 5, 3
    mdp = random_mdp(b, S, A, generator=gen(1), gamma=0.8)
    net = MLPPolicy(n_features=3, n_hidden=5, n_actions=A)
    x = torch.randn(b, S, 3, generator=gen(2), dtype=F64)
    theta = net.init(b, generator=gen(3))

    def fn(t):
        return net.logits(t, x)

    pi = torch.softmax(fn(theta), -1)
    Q, _ = soft_policy_evaluation(mdp, pi, TAU)
    W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
    psi = score(net.jacobian(theta, x), pi)
    return mdp, net, x, theta, fn, pi, Q, W, psi


def test_policy_gradient_is_the_gradient_of_the_entropy_augmented_return(network_problem) -> None:
    """The policy gradient theorem, checked by autograd through the exact soft policy evaluation."""
    mdp, net, x, theta, fn, pi, Q, W, psi = network_problem
    th = theta.clone().requires_grad_(True)
    _, V = soft_policy_evaluation(mdp, torch.softmax(fn(th), -1), TAU)
    J = (mdp.mu0 * V).sum()  # Σ_b μ₀·V^π: the batch rows are independent
    (grad,) = torch.autograd.grad(J, th)
    adv = Q - TAU * torch.log(pi)  # any per-state baseline would do
    g = policy_gradient(psi, adv, W) / (1 - mdp.gamma)
    assert rel(g, grad) < 1e-10
    # and the advantage form gives the same vector (ψ has π-mean zero)
    assert rel(policy_gradient(psi, soft_advantage(Q, pi, TAU), W) / (1 - mdp.gamma), grad) < 1e-10


def test_fisher_is_the_hessian_of_the_kl(network_problem) -> None:
    """F = Σ_s d(s) ∇²_θ' KL[π_θ(·|s) ‖ π_θ'(·|s)] at θ' = θ."""
    mdp, net, x, theta, fn, pi, Q, W, psi = network_problem
    F = fisher_matrix(psi, W)
    d = W.sum(-1)
    for i in range(theta.shape[0]):
        def kl(t):
            lp = log_policy(net.logits(t.unsqueeze(0), x[i:i + 1]))[0]
            return (d[i] * (pi[i] * (torch.log(pi[i]) - lp)).sum(-1)).sum()
        H = torch.autograd.functional.hessian(kl, theta[i])
        assert torch.allclose(F[i], H, atol=1e-12)
    assert torch.allclose(F, F.transpose(1, 2))
    assert float(torch.linalg.eigvalsh(F).min()) > -1e-12  # positive semi-definite


def test_three_solves_agree_on_a_network(network_problem) -> None:
    mdp, net, x, theta, fn, pi, Q, W, psi = network_problem
    adv = soft_advantage(Q, pi, TAU)
    F, g = fisher_matrix(psi, W), policy_gradient(psi, adv, W)
    w_pinv = natural_gradient_explicit(F, g, pseudo_inverse=True)
    w_ls = natural_gradient_lstsq(psi, adv, W)
    w_cg, info = natural_gradient_cg(fn, theta, adv, W, tol=1e-14, max_iter=500)
    assert rel(w_ls, w_pinv) < 1e-9 and rel(w_cg, w_pinv) < 1e-9
    assert float(info["residual"].max()) < 1e-12
    # the normal equations of eq. 66: F w = g
    assert rel((F @ w_ls.unsqueeze(-1)).squeeze(-1), g) < 1e-10
    # ε scales the solution, per problem when ε is a tensor
    eps = torch.tensor([0.1, 1.0, 2.0, 0.5], dtype=F64)
    assert torch.allclose(natural_gradient_lstsq(psi, adv, W, step=eps), eps.unsqueeze(-1) * w_ls)


def test_fisher_vector_product_and_weighted_sum_without_forming_F(network_problem) -> None:
    mdp, net, x, theta, fn, pi, Q, W, psi = network_problem
    v = torch.randn(theta.shape, generator=gen(4), dtype=F64)
    F = fisher_matrix(psi, W)
    assert torch.allclose(fisher_vector_product(fn, theta, pi, W, v), (F @ v.unsqueeze(-1)).squeeze(-1), atol=1e-14)
    c = torch.randn(W.shape, generator=gen(5), dtype=F64)
    assert torch.allclose(score_weighted_sum(fn, theta, pi, c), torch.einsum("bsa,bsap->bp", c, psi), atol=1e-14)


def test_tabular_closed_form_and_least_squares() -> None:
    b, S, A = 3, 4, 3
    mdp = random_mdp(b, S, A, generator=gen(6), gamma=0.9)
    e = torch.rand(b, S, A, generator=gen(7), dtype=F64) + 0.05
    pi = e / e.sum(-1, keepdim=True)
    Q, _ = soft_policy_evaluation(mdp, pi, TAU)
    adv = soft_advantage(Q, pi, TAU)
    d = discounted_visitation(mdp, pi)
    W = d.unsqueeze(-1) * pi
    psi = score(tabular_jacobian(b, S, A), pi)
    F = fisher_matrix(psi, W)
    assert int((torch.linalg.eigvalsh(F) > 1e-12).sum(-1).min()) == S * (A - 1)  # one null direction per state
    w_closed = tabular_natural_gradient(adv, d).reshape(b, -1)
    assert rel(natural_gradient_lstsq(psi, adv, W), w_closed) < 1e-10
    assert rel(natural_gradient_explicit(F, policy_gradient(psi, adv, W), pseudo_inverse=True), w_closed) < 1e-10
    # the natural step moves log π by adv up to a constant per state (the first-order change ψ·w)
    dlog = (psi * w_closed.view(b, 1, 1, -1)).sum(-1)
    centred = dlog - adv
    assert torch.allclose(centred, centred[..., :1].expand_as(centred), atol=1e-12)
    # unvisited states get no step
    d0 = d.clone()
    d0[:, 0] = 0
    assert bool((tabular_natural_gradient(adv, d0)[:, 0] == 0).all())


def test_natural_gradient_is_invariant_to_reparametrization() -> None:
    """θ = Bφ with an invertible B: the natural step changes log π by the same ψ·w in both coordinates."""
    b, S, A = 2, 4, 3
    mdp = random_mdp(b, S, A, generator=gen(8), gamma=0.8)
    p = S * A
    B = torch.eye(p, dtype=F64) + 0.3 * torch.randn(p, p, generator=gen(9), dtype=F64)
    theta = 0.5 * torch.randn(b, p, generator=gen(10), dtype=F64)
    pi = torch.softmax(tabular_logits(theta, S, A), -1)
    Q, _ = soft_policy_evaluation(mdp, pi, TAU)
    adv = soft_advantage(Q, pi, TAU)
    W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
    psi_theta = score(tabular_jacobian(b, S, A), pi)
    psi_phi = torch.einsum("bsap,pq->bsaq", psi_theta, B)  # chain rule: ∂θ/∂φ = B
    w_theta = natural_gradient_lstsq(psi_theta, adv, W)
    w_phi = natural_gradient_lstsq(psi_phi, adv, W)
    change_theta = (psi_theta * w_theta.view(b, 1, 1, -1)).sum(-1)
    change_phi = (psi_phi * w_phi.view(b, 1, 1, -1)).sum(-1)
    assert torch.allclose(change_theta, change_phi, atol=1e-11)
    # the plain gradient is not invariant
    g_theta = policy_gradient(psi_theta, adv, W)
    g_phi = policy_gradient(psi_phi, adv, W)
    plain_theta = (psi_theta * g_theta.view(b, 1, 1, -1)).sum(-1)
    plain_phi = (psi_phi * g_phi.view(b, 1, 1, -1)).sum(-1)
    assert float((plain_theta - plain_phi).abs().max()) > 1e-3


def test_conjugate_gradient_on_random_spd_systems() -> None:
    b, p = 5, 12
    M = torch.randn(b, p, p, generator=gen(11), dtype=F64)
    A = M @ M.transpose(1, 2) + 0.1 * torch.eye(p, dtype=F64)
    rhs = torch.randn(b, p, generator=gen(12), dtype=F64)
    x, info = conjugate_gradient(lambda v: (A @ v.unsqueeze(-1)).squeeze(-1), rhs, tol=1e-13, max_iter=200)
    assert rel(x, torch.linalg.solve(A, rhs)) < 1e-9
    assert float(info["residual"].max()) <= 1e-13
    # a singular consistent system: the minimum-norm solution
    U = torch.linalg.qr(torch.randn(b, p, 5, generator=gen(13), dtype=F64)).Q
    A = U @ torch.diag_embed(torch.rand(b, 5, generator=gen(14), dtype=F64) + 0.5) @ U.transpose(1, 2)
    rhs = (A @ torch.randn(b, p, 1, generator=gen(15), dtype=F64)).squeeze(-1)
    x, _ = conjugate_gradient(lambda v: (A @ v.unsqueeze(-1)).squeeze(-1), rhs, tol=1e-14, max_iter=200)
    assert rel(x, (torch.linalg.pinv(A) @ rhs.unsqueeze(-1)).squeeze(-1)) < 1e-9


@pytest.mark.parametrize(
    "bad",
    [
        lambda: fisher_matrix(torch.zeros(1, 2, 3, 4, dtype=F64), torch.zeros(1, 2, 2, dtype=F64)),
        lambda: fisher_matrix(torch.zeros(1, 2, 3, 4, dtype=F64), -torch.ones(1, 2, 3, dtype=F64)),
        lambda: policy_gradient(torch.zeros(1, 2, 3, 4, dtype=F64), torch.full((1, 2, 3), float("nan"), dtype=F64),
                                torch.ones(1, 2, 3, dtype=F64)),
        lambda: natural_gradient_lstsq(torch.zeros(1, 2, 3, 4, dtype=F64), torch.zeros(1, 2, 3, dtype=F64),
                                       torch.ones(1, 2, 3, dtype=F64), step="big"),
        lambda: natural_gradient_explicit(torch.eye(3, dtype=F64), torch.zeros(3, dtype=F64)),
        lambda: natural_gradient_explicit(torch.eye(3, dtype=F64).unsqueeze(0), torch.zeros(1, 3, dtype=F64),
                                          pseudo_inverse=True, rcond=0.0),
        lambda: conjugate_gradient(lambda v: v, torch.zeros(3, dtype=F64)),
        lambda: conjugate_gradient(lambda v: v, torch.zeros(1, 3, dtype=F64), max_iter=0),
        lambda: tabular_natural_gradient(torch.zeros(1, 2, 3, dtype=F64), torch.zeros(1, 3, dtype=F64)),
    ],
)
def test_bad_input_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError):
        bad()
