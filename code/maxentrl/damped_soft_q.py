"""Damped soft Q-learning: regression towards an interpolated target (Schulman, Chen and Abbeel 2017, eqs. 72–78).

Soft Q-learning regresses Q_θ(s, a) onto a backed-up value Q̂(s, a). Writing
the Q-function through the policy it induces, Q_θ(s, a) = V_θ(s) + τ log π_θ(a|s)
(eq. 30 with a uniform reference policy; the constant τ log|A| of the KL
convention drops out of every difference below), the *damped* version
regresses onto

    Q̂^ε(s, a) = (1 − ε) Q_old(s, a) + ε Q̂(s, a) = Q_old + ε (Q̂ − Q_old),      (eq. 74)

a point part of the way from the current values to the target. With the
value held at V_old, the residual is
Q_θ − Q̂^ε = τ [log π_θ − log π_old − (ε/τ) Â] with Â = Q̂ − τ log π_old − V_old
(eqs. 75–78; the paper's eq. 77 drops the factor τ in front of the
log-ratios, so its eq. 78 holds as printed for τ = 1). This is τ times the
residual of the natural-gradient regression, eq. 71, with step ε/τ: the
damped regression's first Gauss–Newton step *is* the natural gradient step,
and its solution differs from it only at second order in ε.

Two forms:

* tabular, exact targets (:func:`damped_soft_q_iteration`):
  Q ← (1 − ε) Q + ε Q^{π_Q}, with π_Q the Boltzmann policy of the table.
  Because π_Q ∝ exp(Q/τ), this is the tabular NPG of :mod:`maxentrl.npg`
  with ε = ητ/(1 − γ); ε = 1 is soft policy iteration.
* parametrized (:func:`fit_soft_q`, :func:`damped_soft_q_step`): the
  regression over a policy network's parameters θ, solved by Gauss–Newton
  with a backtracking line search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from maxentrl.boltzmann import check_temperature
from maxentrl.errors import ConfigError, require_finite, require_int_at_least, require_positive, require_shape
from maxentrl.mdp import TabularMDP
from maxentrl.natural_gradient import min_norm_lstsq
from maxentrl.soft_bellman import maxent_policy, soft_policy_evaluation
from maxentrl.softmax_policy import log_policy, score

__all__ = [
    "damped_target",
    "damped_soft_q_iteration",
    "soft_q_loss",
    "fit_soft_q",
    "damped_soft_q_step",
]


def _eps_like(eps: float | Tensor, like: Tensor) -> float | Tensor:
    if isinstance(eps, Tensor):
        require_finite("eps", eps)
        if bool(((eps <= 0) | (eps > 1)).any()):
            raise ConfigError("the damping eps must lie in (0, 1]")
        return eps.to(like).reshape(-1, *([1] * (like.dim() - 1)))
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 < eps <= 1):
        raise ConfigError(f"the damping eps must lie in (0, 1], got {eps!r}")
    return float(eps)


def damped_target(Q_old: Tensor, Q_hat: Tensor, eps: float | Tensor) -> Tensor:
    """Q̂^ε = (1 − ε) Q_old + ε Q̂ = Q_old + ε (Q̂ − Q_old) (Schulman et al. 2017, eq. 74); shape of ``Q_old``.

    ε ∈ (0, 1] is the damping (a number, or ``[b]``, one per problem): ε = 1
    is the undamped target of ordinary soft Q-learning.
    """
    require_shape("Q_hat", Q_hat, tuple(Q_old.shape))
    eps = _eps_like(eps, Q_old)
    # torch.lerp evaluates the two forms of eq. 74 on either side of ε = ½, so ε = 1 returns Q̂ exactly
    return torch.lerp(Q_old, Q_hat, eps.expand_as(Q_old) if isinstance(eps, Tensor) else eps)


def damped_soft_q_iteration(
    mdp: TabularMDP,
    tau: float | Tensor,
    eps: float | Tensor,
    *,
    iterations: int,
    Q0: Tensor | None = None,
    keep_history: bool = False,
) -> tuple[Tensor, dict[str, Any]]:
    """Tabular damped soft Q-learning with exact targets: Q_{k+1} = (1 − ε) Q_k + ε Q^{π_{Q_k}}.

    The table Q stands for its Boltzmann policy π_Q = exp((Q − V_Q)/τ)
    (:func:`maxentrl.soft_bellman.maxent_policy`); the target Q̂ = Q^{π_Q} is
    that policy's exact soft Q-function. Starts from ``Q0`` (zeros: the
    uniform policy). Returns ``(Q, history)`` with ``history["Q"]`` (the
    tables) and ``history["pi"]`` (their policies) when ``keep_history``.
    """
    require_int_at_least("iterations", iterations, 0)
    check_temperature(tau)
    shape = (mdp.batch_size, mdp.n_states, mdp.n_actions)
    Q = torch.zeros(shape, dtype=mdp.dtype, device=mdp.device) if Q0 is None else Q0.to(mdp.dtype)
    require_shape("Q0", Q, shape, meaning="[b, S, A]")
    require_finite("Q0", Q)
    history: dict[str, Any] = {"iterations": iterations}
    if keep_history:
        history["Q"], history["pi"] = [Q], [maxent_policy(Q, tau)]
    for _ in range(iterations):
        Q_hat, _ = soft_policy_evaluation(mdp, maxent_policy(Q, tau), tau)
        Q = damped_target(Q, Q_hat, eps)
        if keep_history:
            history["Q"].append(Q)
            history["pi"].append(maxent_policy(Q, tau))
    return Q, history


def soft_q_loss(log_pi: Tensor, V: Tensor, Q_target: Tensor, weights: Tensor, tau: float | Tensor) -> Tensor:
    """½ Σ_{s,a} W(s, a) (V(s) + τ log π(a|s) − Q_target(s, a))² (Schulman et al. 2017, eq. 72); ``[b]``.

    ``log_pi``, ``Q_target`` and ``weights`` are ``[b, S, A]``, ``V`` is ``[b, S]``.
    """
    check_temperature(tau)
    require_shape("V", V, tuple(log_pi.shape[:2]), meaning="[b, S]")
    require_shape("Q_target", Q_target, tuple(log_pi.shape), meaning="[b, S, A]")
    require_shape("weights", weights, tuple(log_pi.shape), meaning="[b, S, A]")
    t = tau.to(log_pi).reshape(-1, 1, 1) if isinstance(tau, Tensor) else tau
    residual = V.unsqueeze(-1) + t * log_pi - Q_target
    # rows of zero weight may hold −inf log-probabilities or arbitrary targets: they do not count
    residual = torch.where(weights > 0, residual, torch.zeros_like(residual))
    return 0.5 * (weights * residual**2).sum(dim=(1, 2))


def fit_soft_q(
    logits_fn: Callable[[Tensor], Tensor],
    jacobian_fn: Callable[[Tensor], Tensor],
    theta: Tensor,
    V: Tensor,
    Q_target: Tensor,
    weights: Tensor,
    tau: float | Tensor,
    *,
    fit_value: bool = False,
    max_iter: int = 50,
    tol: float = 1e-14,
    ridge: float = 0.0,
) -> tuple[Tensor, dict[str, Any]]:
    """Minimize :func:`soft_q_loss` over the policy parameters θ (and, with ``fit_value``, over V too) by Gauss–Newton.

    Q_θ(s, a) = V(s) + τ log π_θ(a|s), π_θ = softmax(``logits_fn(theta)``).
    With ``fit_value=False`` the value is held at ``V`` (Schulman et al.'s
    assumption V_θ = V_θold); with ``fit_value=True`` each state's V(s) is a
    free parameter of the regression, started at ``V``, as in a soft
    Q-learner whose Q-function carries its own value. Each iteration solves
    the linearized problem min_δ Σ W (residual + τ ψ·δ_θ + δ_V)² + ridge·‖δ‖²
    by minimum-norm least squares (ψ the score, from ``jacobian_fn(theta)`` =
    ∂z/∂θ ``[b, S, A, p]``; ``ridge`` > 0 makes it a Levenberg–Marquardt step,
    which keeps directions that the weights barely see from taking huge
    steps and does not move the minimizer), then halves δ until the loss does
    not increase (at most 30 times). A batch row stops once its step is below
    ``tol``·max(1, ‖θ‖∞).

    Returns ``(theta, info)``: ``info["V"]`` (the fitted or the given value),
    ``info["iterations"]``, ``info["loss"][b]``, ``info["converged"][b]``.
    """
    require_int_at_least("max_iter", max_iter, 1)
    require_positive("tol", tol)
    if not ridge >= 0:
        raise ConfigError(f"ridge must be >= 0, got {ridge!r}")
    check_temperature(tau)
    t = tau.to(theta).reshape(-1, 1, 1) if isinstance(tau, Tensor) else float(tau)
    root = weights.to(theta.dtype).clamp_min(0).sqrt()
    p = theta.shape[1]
    x = torch.cat([theta, V.to(theta.dtype)], dim=1) if fit_value else theta

    def split(x: Tensor) -> tuple[Tensor, Tensor]:
        return (x[:, :p], x[:, p:]) if fit_value else (x, V)

    def loss_at(x: Tensor) -> Tensor:
        th, v = split(x)
        return soft_q_loss(log_policy(logits_fn(th)), v, Q_target, weights, tau)

    loss = loss_at(x)
    active = torch.ones(theta.shape[0], dtype=torch.bool, device=theta.device)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        th, v = split(x)
        lp = log_policy(logits_fn(th))
        psi = score(jacobian_fn(th), lp.exp())
        b, S, A, _ = psi.shape
        resid = v.unsqueeze(-1) + t * lp - Q_target
        resid = torch.where(weights > 0, resid, torch.zeros_like(resid))
        J = t.unsqueeze(-1) * psi if isinstance(t, Tensor) else t * psi
        if fit_value:  # ∂Q/∂V(s') = 1 if s = s'
            eye_s = torch.eye(S, dtype=J.dtype, device=J.device).reshape(1, S, 1, S).expand(b, S, A, S)
            J = torch.cat([J, eye_s], dim=-1)
        n = J.shape[-1]
        M, y = (root.unsqueeze(-1) * J).reshape(b, S * A, n), (root * resid).reshape(b, S * A)
        if ridge > 0:
            eye = ridge**0.5 * torch.eye(n, dtype=M.dtype, device=M.device).expand(b, n, n)
            M, y = torch.cat([M, eye], dim=1), torch.cat([y, y.new_zeros(b, n)], dim=1)
        delta = -min_norm_lstsq(M, y)
        delta = torch.where(active.unsqueeze(-1), delta, torch.zeros_like(delta))
        scale = torch.ones_like(loss)
        new_x, new_loss = x, loss
        pending = active.clone()
        for _ in range(30):
            cand = x + scale.unsqueeze(-1) * delta
            cand_loss = loss_at(cand)
            ok = pending & (cand_loss <= loss)
            new_x = torch.where(ok.unsqueeze(-1), cand, new_x)
            new_loss = torch.where(ok, cand_loss, new_loss)
            pending = pending & ~ok
            if not bool(pending.any()):
                break
            scale = torch.where(pending, 0.5 * scale, scale)
        step = (new_x - x).abs().amax(dim=-1)
        x, loss = new_x, new_loss
        active = active & (step > tol * x.abs().amax(dim=-1).clamp_min(1.0))
        if not bool(active.any()):
            break
    theta, V_fit = split(x)
    return theta, {"V": V_fit, "iterations": iterations, "loss": loss, "converged": ~active}


def damped_soft_q_step(
    logits_fn: Callable[[Tensor], Tensor],
    jacobian_fn: Callable[[Tensor], Tensor],
    theta: Tensor,
    V_old: Tensor,
    Q_hat: Tensor,
    weights: Tensor,
    tau: float | Tensor,
    eps: float | Tensor,
    *,
    fit_value: bool = False,
    max_iter: int = 50,
    tol: float = 1e-14,
    ridge: float = 0.0,
) -> tuple[Tensor, dict[str, Any]]:
    """One damped soft Q-learning update of a policy network (Schulman et al. 2017, eqs. 74–78).

    Builds Q_old = V_old + τ log π_θ (the current Q-function), the damped
    target Q̂^ε of :func:`damped_target` and solves the regression
    :func:`fit_soft_q` onto it, with V held at ``V_old`` (the paper's
    assumption V_θ = V_θold) or, with ``fit_value``, fitted along with θ.
    ``eps`` = 1 is the undamped regression of eq. 73. ``Q_hat[b, S, A]`` is the backed-up value (an estimate of
    Q^{π_old}); rows with zero ``weights`` are ignored.
    """
    check_temperature(tau)
    t = tau.to(theta).reshape(-1, 1, 1) if isinstance(tau, Tensor) else float(tau)
    lp = log_policy(logits_fn(theta))
    Q_old = V_old.unsqueeze(-1) + t * lp
    target = damped_target(Q_old, torch.where(weights > 0, Q_hat, Q_old), eps)
    return fit_soft_q(logits_fn, jacobian_fn, theta, V_old, target, weights, tau, fit_value=fit_value,
                      max_iter=max_iter, tol=tol, ridge=ridge)
