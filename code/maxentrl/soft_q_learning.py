"""The two parts of soft Q-learning that DDPG does not share: the soft backup and the Stein policy update.

Haarnoja et al. (2017), Algorithm 1. The critic Q_θ(s, a) is regressed on
the target of eq. 11,

    Q̂(s, a) = r + γ V̂_θ̄(s′),   V̂_θ̄(s′) = τ log E_{a′∼q}[exp(Q_θ̄(s′, a′)/τ) / q(a′)]   (eq. 10),

with q uniform on the action box [−1, 1]^d (q(a′) = 2^{−d}, as in the
authors' code) and the target parameters θ̄. The sampler
a = tanh(f^φ(ξ; s)), ξ ∼ N(0, I), is trained by amortized SVGD (eqs. 13-14)
towards the Boltzmann policy π(a | s) ∝ exp(Q_θ(s, a)/τ).

The particles live in the sampler's unsquashed output space u (a = tanh u),
where the target density of π is p(u) ∝ exp(Q(s, tanh u)/τ) Π_k (1 − tanh² u_k):
the change of variables adds the log-determinant of the tanh Jacobian to the
energy. (The authors' code adds the same term but runs SVGD on a.)

The DDPG counterparts are in :mod:`maxentrl.ddpg`; everything else is shared
(:mod:`maxentrl.actor_critic`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.importance import soft_value_importance
from maxentrl.svgd import amortized_svgd_loss, median_bandwidth, svgd_direction

__all__ = ["soft_q_target", "tanh_log_det", "stein_policy_direction", "sql_policy_loss"]


def soft_q_target(reward: Tensor, terminal: Tensor, next_q: Tensor, *, tau: float, gamma: float, act_dim: int) -> Tensor:
    """The soft Q target of eq. 11, Q̂ = r + γ (1 − terminal) V̂(s′), with V̂ from eq. 10 (uniform proposal); ``[...]``.

    ``reward[...]``, ``terminal[...]`` (bool), ``next_q[..., K]``: the target
    critic Q_θ̄(s′, a′_k) at K actions a′_k drawn uniformly from [−1, 1]^d.
    """
    log_q = torch.full_like(next_q, -act_dim * math.log(2.0))
    V = soft_value_importance(next_q, log_q, tau)
    return reward + gamma * (~terminal).to(reward.dtype) * V


def tanh_log_det(u: Tensor) -> Tensor:
    """Σ_k log(1 − tanh² u_k) over the last axis, computed stably as Σ_k 2(log 2 − u_k − softplus(−2 u_k)); ``[...]``."""
    return (2.0 * (math.log(2.0) - u - torch.nn.functional.softplus(-2.0 * u))).sum(-1)


def stein_policy_direction(
    q_fn: Callable[[Tensor, Tensor], Tensor],
    obs: Tensor,
    u_fixed: Tensor,
    u_updated: Tensor,
    *,
    tau: float,
    repulsive: bool = True,
    bandwidth_rule: str = "paper",
) -> Tensor:
    """φ at the updated particles for the target p(u) ∝ exp(Q(s, tanh u)/τ + log|det ∂a/∂u|) (eq. 13, App. C.1).

    ``obs[E, B, ds]``; ``u_fixed[E, B, M, da]`` are the particles where the
    score is evaluated (the authors' "fixed actions"), ``u_updated[E, B, K, da]``
    those that are moved; ``q_fn(obs[E, B, ds], a[E, B, M, da]) -> [E, B, M]``.
    The bandwidth is :func:`~maxentrl.svgd.median_bandwidth` over the M·K
    pairs, per state, with ``bandwidth_rule`` (``"paper"`` or ``"code"``). Returns ``[E, B, K, da]`` (τ times it is eq. 13's Δf).
    """
    u = u_fixed.detach().requires_grad_(True)
    log_p = q_fn(obs, torch.tanh(u)) / tau + tanh_log_det(u)
    (score,) = torch.autograd.grad(log_p.sum(), u)
    target = u_updated.detach()
    h = median_bandwidth(u.detach(), target, rule=bandwidth_rule)
    return svgd_direction(u.detach(), score, y=target, bandwidth=h, repulsive=repulsive)


def sql_policy_loss(
    q_fn: Callable[[Tensor, Tensor], Tensor],
    obs: Tensor,
    u: Tensor,
    *,
    n_fixed: int,
    tau: float,
    repulsive: bool = True,
    bandwidth_rule: str = "paper",
) -> Tensor:
    """The amortized SVGD surrogate of eq. 14 for a batch of states, summed over ensemble members; a scalar.

    ``u[E, B, M + K, da]`` are sampler outputs f^φ(ξ; s) (with their graph);
    the first ``n_fixed`` = M serve as the fixed particles, the other K are
    moved along the Stein direction. Minimizing the result follows eq. 14.
    """
    u_fixed, u_updated = u[..., :n_fixed, :], u[..., n_fixed:, :]
    direction = stein_policy_direction(q_fn, obs, u_fixed, u_updated, tau=tau, repulsive=repulsive,
                                       bandwidth_rule=bandwidth_rule)
    return amortized_svgd_loss(u_updated, direction).mean(-1).sum()
