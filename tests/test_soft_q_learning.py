"""The soft backup (eqs. 10-11), the tanh change of variables and the Stein policy update (eqs. 13-14)."""

from __future__ import annotations

import math

import torch

from maxentrl.ddpg import ddpg_policy_loss, hard_q_target
from maxentrl.soft_q_learning import soft_q_target, sql_policy_loss, stein_policy_direction, tanh_log_det
from maxentrl.svgd import svgd_direction

D = torch.float64


def test_soft_target_is_eq_10_with_a_uniform_proposal() -> None:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(3, 4, 50, dtype=D, generator=g) * 5
    r = torch.randn(3, 4, dtype=D, generator=g)
    term = torch.zeros(3, 4, dtype=torch.bool)
    term[0, 0] = True
    tau, gamma = 2.0, 0.9
    y = soft_q_target(r, term, q, tau=tau, gamma=gamma, act_dim=2)
    V = tau * torch.log(torch.exp(q / tau).mean(-1) * 4.0)  # (1/K) Σ exp(Q/τ) / q(a), q = 1/4 on [-1, 1]²
    expect = r + gamma * V
    expect[0, 0] = r[0, 0]
    torch.testing.assert_close(y, expect)
    # a constant Q = c: V = τ log ∫_{[-1,1]²} exp(c/τ) da = c + τ log 4, exactly
    c = torch.full((1, 1, 7), 3.0, dtype=D)
    torch.testing.assert_close(soft_q_target(torch.zeros(1, 1, dtype=D), torch.zeros(1, 1, dtype=torch.bool), c, tau=0.5,
                                             gamma=1.0 - 1e-12, act_dim=2), torch.full((1, 1), (3.0 + 0.5 * math.log(4)) * (1 - 1e-12), dtype=D))


def test_hard_target_and_ddpg_loss() -> None:
    r, nq = torch.tensor([[1.0, 2.0]], dtype=D), torch.tensor([[10.0, 20.0]], dtype=D)
    torch.testing.assert_close(hard_q_target(r, torch.tensor([[False, True]]), nq, gamma=0.5), torch.tensor([[6.0, 2.0]], dtype=D))
    assert float(ddpg_policy_loss(torch.tensor([[1.0, 3.0], [2.0, 2.0]]))) == -4.0


def test_tanh_log_det_is_stable_and_exact() -> None:
    u = torch.linspace(-5, 5, 101, dtype=D).view(-1, 1)
    torch.testing.assert_close(tanh_log_det(u), torch.log(1 - torch.tanh(u) ** 2).squeeze(-1), rtol=1e-9, atol=1e-9)
    assert torch.isfinite(tanh_log_det(torch.tensor([[200.0, -300.0]], dtype=D))).all()


def test_stein_policy_direction_uses_the_score_in_u_space() -> None:
    """Target p(u) ∝ exp(Q(tanh u)/τ) |det ∂a/∂u|: its score by autograd, fed to the Stein direction."""
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(2, 3, 2, dtype=D, generator=g)
    u_fixed = torch.randn(2, 3, 5, 2, dtype=D, generator=g)
    u_moved = torch.randn(2, 3, 4, 2, dtype=D, generator=g)
    w = torch.randn(2, dtype=D, generator=g)

    def q_fn(o, a):  # Q(s, a) = o·a + w·a², [E, B, K]
        return (o.unsqueeze(2) * a).sum(-1) + (w * a.square()).sum(-1)

    tau = 0.7
    phi = stein_policy_direction(q_fn, obs, u_fixed, u_moved, tau=tau)
    a = torch.tanh(u_fixed)
    dq_da = obs.unsqueeze(2) + 2 * w * a
    score = dq_da * (1 - a**2) / tau - 2 * a  # chain rule, plus d/du log(1 - tanh² u) = -2 tanh u
    torch.testing.assert_close(phi, svgd_direction(u_fixed, score, y=u_moved))
    u = torch.cat([u_fixed, u_moved], dim=2).requires_grad_(True)
    loss = sql_policy_loss(q_fn, obs, u, n_fixed=5, tau=tau)
    (grad,) = torch.autograd.grad(loss, u)
    assert float(grad[:, :, :5].abs().max()) == 0.0  # fixed particles carry no gradient
    torch.testing.assert_close(grad[:, :, 5:], -phi / (4 * 3))  # mean over K = 4 particles and B = 3 states
