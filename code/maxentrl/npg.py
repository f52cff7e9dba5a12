"""Entropy-regularized natural policy gradient on tabular MDPs (Cen, Cheng, Chen, Wei and Chi 2021).

The objective is chapter 2's entropy-augmented return, and Q^π, V^π are the
soft values of :func:`maxentrl.soft_bellman.soft_policy_evaluation` (the first
entropy term in V, not in Q: Cen et al.'s Q_τ^π and V_τ^π, their eqs. 5–8).
For a table of logits the natural gradient needs no matrix
(:func:`maxentrl.natural_gradient.tabular_natural_gradient`): with learning
rate η, θ ← θ + η F⁺∇V, and F⁺∇V = (Q^π − τ log π)/(1 − γ) up to a constant
per state. In terms of the policy this is Cen et al.'s eq. 17,

    π^{(t+1)}(a|s) ∝ π^{(t)}(a|s)^{1 − ητ/(1−γ)} exp(η Q^{(t)}(s, a)/(1 − γ)),

which :func:`npg_update` applies in log space. At η = (1 − γ)/τ the old
policy drops out and π^{(t+1)} ∝ exp(Q^{(t)}/τ): soft policy iteration
(Haarnoja et al. 2017, eq. 17). Their Theorem 1 bounds the error of every
iterate for 0 < η ≤ (1 − γ)/τ (:func:`cen_constant`, :func:`cen_bound`).

Shapes: ``pi[b, s, a]``, ``Q[b, s, a]``, ``d[b, s]``; ``tau`` and ``eta`` are
floats or tensors ``[b]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from maxentrl.boltzmann import check_temperature
from maxentrl.errors import ConfigError, require_finite, require_int_at_least, require_shape
from maxentrl.mdp import TabularMDP, policy_transition
from maxentrl.soft_bellman import soft_policy_evaluation

__all__ = [
    "discounted_visitation",
    "soft_advantage",
    "npg_update",
    "check_step_size",
    "entropy_regularized_npg",
    "cen_constant",
    "cen_bound",
]


def _per_mdp(x: float | Tensor, b: int, like: Tensor) -> Tensor:
    """A float or ``[b]`` tensor as a ``[b]`` tensor in ``like``'s dtype and device."""
    if isinstance(x, Tensor):
        if x.dim() == 0:
            x = x.reshape(1).expand(b)
        if tuple(x.shape) != (b,):
            raise ConfigError(f"expected a number or a tensor of shape [b] = ({b},), got shape {tuple(x.shape)}")
        return x.to(dtype=like.dtype, device=like.device)
    return torch.full((b,), float(x), dtype=like.dtype, device=like.device)


def discounted_visitation(mdp: TabularMDP, pi: Tensor) -> Tensor:
    """d^π(s) = (1 − γ) Σ_t γ^t Pr(s_t = s | s₀ ∼ μ₀, π), exactly (a linear solve); ``[b, S]``, rows sum to 1.

    The state distribution of the policy gradient theorem and of Kakade's
    Fisher matrix (Cen et al.'s d_ρ^π with ρ = μ₀).
    """
    P_pi = policy_transition(mdp, pi)  # [b, S, S']
    g = mdp.gamma_tensor().reshape(-1, 1, 1)
    eye = torch.eye(mdp.n_states, dtype=mdp.dtype, device=mdp.device).expand_as(P_pi)
    # d solves d (I − γ P_π) = (1 − γ) μ₀, i.e. (I − γ P_π)ᵀ dᵀ = (1 − γ) μ₀ᵀ
    rhs = ((1 - g.squeeze(-1)) * mdp.mu0).unsqueeze(-1)
    d = torch.linalg.solve((eye - g * P_pi).transpose(1, 2), rhs).squeeze(-1)
    return d.clamp_min(0.0)


def soft_advantage(Q: Tensor, pi: Tensor, tau: float | Tensor) -> Tensor:
    """A(s, a) = Q(s, a) − τ log π(a|s) − V(s) with V(s) = Σ_a π (Q − τ log π); ``[b, S, A]``, π-mean zero.

    For Q = Q^π this is the entropy-regularized advantage whose score-weighted
    average is the policy gradient (Schulman et al. 2017, eq. 70, with a
    uniform π̄ and their KL written as an entropy). ``pi`` must be positive.
    """
    check_temperature(tau)
    require_shape("pi", pi, tuple(Q.shape), meaning="[b, S, A]")
    if bool((pi <= 0).any()):
        raise ConfigError("pi must be positive everywhere (log pi enters the advantage)")
    t = _per_mdp(tau, Q.shape[0], Q).reshape(-1, 1, 1)
    x = Q - t * torch.log(pi)
    return x - (pi * x).sum(dim=-1, keepdim=True)


def check_step_size(eta: float | Tensor, tau: float | Tensor, gamma: float | Tensor) -> None:
    """Raise :class:`ConfigError` unless 0 < η ≤ (1 − γ)/τ (Cen et al. 2021, Theorem 1's range), elementwise."""
    eta_t = torch.as_tensor(eta, dtype=torch.float64)
    tau_t = torch.as_tensor(tau, dtype=torch.float64)
    g_t = torch.as_tensor(gamma, dtype=torch.float64)
    if not bool(torch.all(torch.isfinite(eta_t) & (eta_t > 0))):
        raise ConfigError("step size eta must be positive and finite")
    limit = (1 - g_t) / tau_t
    if not bool(torch.all(eta_t <= limit * (1 + 1e-12))):
        raise ConfigError("step size eta must not exceed (1 - gamma)/tau (Cen et al. 2021, Theorem 1)")


def npg_update(log_pi: Tensor, Q: Tensor, tau: float | Tensor, eta: float | Tensor, gamma: float | Tensor) -> Tensor:
    """One entropy-regularized NPG step in log space (Cen et al. 2021, eq. 17); returns log π^{(t+1)} ``[b, S, A]``.

    log π^{(t+1)} = (1 − ητ/(1−γ)) log π^{(t)} + η Q^{(t)}/(1 − γ) − log Z(s),
    where Z(s) normalizes each state's row. ``log_pi`` and ``Q`` are
    ``[b, S, A]``; ``tau``, ``eta`` and ``gamma`` numbers or ``[b]``.
    """
    require_shape("Q", Q, tuple(log_pi.shape), meaning="[b, S, A]")
    require_finite("Q", Q)
    require_finite("log_pi", log_pi)
    check_temperature(tau)
    b = log_pi.shape[0]
    t, e, g = (_per_mdp(x, b, log_pi).reshape(-1, 1, 1) for x in (tau, eta, gamma))
    check_step_size(e.flatten(), t.flatten(), g.flatten())
    x = (1 - e * t / (1 - g)) * log_pi + e * Q / (1 - g)
    return x - torch.logsumexp(x, dim=-1, keepdim=True)


def entropy_regularized_npg(
    mdp: TabularMDP,
    tau: float | Tensor,
    eta: float | Tensor,
    *,
    iterations: int,
    pi0: Tensor | None = None,
    reference: tuple[Tensor, Tensor] | None = None,
    keep_history: bool = False,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Run ``iterations`` exact NPG steps (:func:`npg_update` with exact Q^{(t)}) in every MDP.

    Starts from ``pi0`` (uniform by default; must be positive). With
    ``reference = (Q_star, log_pi_star)`` records, for t = 0 … iterations,
    ``q_error[t][b]`` = ‖Q* − Q^{(t)}‖∞ and ``log_pi_error[t][b]`` =
    ‖log π* − log π^{(t)}‖∞ (as tensors ``[T+1, b]``). With ``keep_history``
    also the lists ``log_pi`` and ``Q`` of all iterates.

    Returns ``(pi, Q, history)``: the last policy, its Q^π, and the records.
    """
    require_int_at_least("iterations", iterations, 0)
    check_temperature(tau)
    b, S, A = mdp.batch_size, mdp.n_states, mdp.n_actions
    check_step_size(_per_mdp(eta, b, mdp.r), _per_mdp(tau, b, mdp.r), mdp.gamma_tensor())
    if pi0 is None:
        log_pi = torch.full((b, S, A), -torch.log(torch.tensor(float(A))).item(), dtype=mdp.dtype, device=mdp.device)
    else:
        require_shape("pi0", pi0, (b, S, A), meaning="[b, S, A]")
        if bool((pi0 <= 0).any()):
            raise ConfigError("pi0 must be positive everywhere (NPG keeps every action's probability positive)")
        log_pi = torch.log(pi0.to(mdp.dtype))
        log_pi = log_pi - torch.logsumexp(log_pi, dim=-1, keepdim=True)
    history: dict[str, Any] = {}
    records: dict[str, list[Tensor]] = {"q_error": [], "log_pi_error": []}
    if keep_history:
        history["log_pi"], history["Q"] = [], []
    gamma = mdp.gamma_tensor()
    for t in range(iterations + 1):
        Q, _ = soft_policy_evaluation(mdp, log_pi.exp(), tau)
        if reference is not None:
            Q_star, log_pi_star = reference
            records["q_error"].append((Q_star - Q).abs().amax(dim=(1, 2)))
            records["log_pi_error"].append((log_pi_star - log_pi).abs().amax(dim=(1, 2)))
        if keep_history:
            history["log_pi"].append(log_pi)
            history["Q"].append(Q)
        if t == iterations:
            break
        log_pi = npg_update(log_pi, Q, tau, eta, gamma)
    if reference is not None:
        history["q_error"] = torch.stack(records["q_error"])
        history["log_pi_error"] = torch.stack(records["log_pi_error"])
    history["iterations"] = iterations
    return log_pi.exp(), Q, history


def cen_constant(
    Q_star: Tensor, Q0: Tensor, log_pi_star: Tensor, log_pi0: Tensor,
    tau: float | Tensor, eta: float | Tensor, gamma: float | Tensor,
) -> Tensor:
    """C₁ = ‖Q* − Q^{(0)}‖∞ + 2τ (1 − ητ/(1−γ)) ‖log π* − log π^{(0)}‖∞ (Cen et al. 2021, Theorem 1); ``[b]``."""
    b = Q_star.shape[0]
    t, e, g = (_per_mdp(x, b, Q_star) for x in (tau, eta, gamma))
    q = (Q_star - Q0).abs().amax(dim=(1, 2))
    lp = (log_pi_star - log_pi0).abs().amax(dim=(1, 2))
    return q + 2 * t * (1 - e * t / (1 - g)) * lp


def cen_bound(C1: Tensor, tau: float | Tensor, eta: float | Tensor, gamma: float | Tensor,
              t: Tensor) -> tuple[Tensor, Tensor]:
    """Theorem 1's bounds on iterate t + 1: (C₁ γ (1 − ητ)^t, 2 C₁ τ⁻¹ (1 − ητ)^t), each ``[len(t), b]``.

    ``C1[b]`` from :func:`cen_constant`; ``t`` a tensor of iteration counts ≥ 0.
    The first bounds ‖Q* − Q^{(t+1)}‖∞, the second ‖log π* − log π^{(t+1)}‖∞.
    """
    b = C1.shape[0]
    tt, e, g = (_per_mdp(x, b, C1) for x in (tau, eta, gamma))
    rate = (1 - e * tt).unsqueeze(0) ** t.to(C1).reshape(-1, 1)
    return C1 * g * rate, 2 * C1 / tt * rate
