"""The soft Bellman equation and the dynamic programs built on it.

Notation (Haarnoja et al. 2017, §2 and Appendix A, with their α written τ):
for a policy π the entropy-augmented return from s₀ is
Σ_{t≥0} γ^t (r_t + τ H(π(·|s_t))) (their eq. 2 with a discount); the soft
Q-function leaves out the first entropy term, which does not depend on a₀
(their eqs. 4 and 15), and the soft value puts it back:

    Q(s, a) = r(s, a) + γ Σ_{s'} P(s'|s, a) V(s')                       (eq. 7)
    V(s)    = τ log Σ_a exp(Q(s, a)/τ)          at the optimum        (eq. 5)
    V^π(s)  = Σ_a π(a|s) Q^π(s, a) + τ H(π(·|s))  for any π   (first line of eq. 23)

(Their eq. 22 writes V^π as τ log Σ_a exp(Q^π/τ); that equals the line above
only when π is the Boltzmann policy of its own Q^π, so for a general π this
module uses the expectation, Schulman et al.'s eq. 26 in entropy form.)

The sum over actions is the counting measure of a finite action set, so V
is :func:`maxentrl.boltzmann.soft_maximum` with a zero log-prior. Schulman
et al. (2017, §3) instead penalize τ KL[π ‖ π̄]; with a uniform π̄ that is the
entropy bonus minus τ log|A| per step (see :func:`boltzmann_backup`).

Shapes: ``Q[b, s, a]``, ``V[b, s]``, policies ``pi[b, s, a]``; ``tau`` is a
float or a tensor ``[b]`` (one temperature per MDP). Every function is
batched over ``b`` and runs on the device and in the dtype of its inputs.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from maxentrl.boltzmann import boltzmann_log_policy, boltzmann_policy, check_temperature, entropy, soft_maximum
from maxentrl.errors import ConfigError, require_finite, require_int_at_least, require_positive, require_shape
from maxentrl.mdp import TabularMDP, policy_transition

__all__ = [
    "soft_value",
    "soft_value_difference",
    "maxent_policy",
    "expected_next_value",
    "soft_bellman_backup",
    "hard_bellman_backup",
    "soft_value_iteration",
    "value_iteration",
    "greedy_policy",
    "soft_policy_evaluation",
    "soft_policy_iteration",
    "fixed_policy_backup",
    "boltzmann_backup",
    "n_step_boltzmann_backup",
]


# -- helpers -----------------------------------------------------------------
def _tau_per_row(tau: float | Tensor, Q: Tensor) -> float | Tensor:
    """``tau`` shaped like ``Q`` without its action axis (``[b]`` → ``[b, S]``); floats pass through."""
    check_temperature(tau)
    if not isinstance(tau, Tensor):
        return float(tau)
    tau = tau.to(dtype=Q.dtype, device=Q.device)
    if tau.dim() == 0:
        return tau.expand(Q.shape[:-1])
    if tau.dim() != 1 or Q.dim() < 2 or tau.shape[0] != Q.shape[0]:
        raise ConfigError(f"tau must be a float or a tensor [b] matching Q's batch, got {tuple(tau.shape)} for Q {tuple(Q.shape)}")
    return tau.reshape(-1, *([1] * (Q.dim() - 2))).expand(Q.shape[:-1])


def _per_mdp(x: float | Tensor, like: Tensor) -> float | Tensor:
    """A float, or a tensor ``[b]`` reshaped to broadcast against ``like[b, ...]``."""
    if not isinstance(x, Tensor):
        return float(x)
    x = x.to(dtype=like.dtype, device=like.device)
    if x.dim() == 0:
        return x
    return x.reshape(-1, *([1] * (like.dim() - 1)))


def _check_q(Q: Tensor, mdp: TabularMDP, name: str = "Q") -> None:
    require_shape(name, Q, (mdp.batch_size, mdp.n_states, mdp.n_actions), meaning="[b, S, A]")
    require_finite(name, Q)


def _check_policy(pi: Tensor, mdp: TabularMDP) -> None:
    _check_q(pi, mdp, "pi")
    tol = 1e-9 if pi.dtype == torch.float64 else 1e-4
    if not bool(torch.all(pi >= 0)) or not bool(torch.all((pi.sum(-1) - 1).abs() <= tol)):
        raise ConfigError("pi[b, s, :] must be a probability distribution over actions in every state")


# -- the soft value and the policy it induces ----------------------------------
def soft_value(Q: Tensor, tau: float | Tensor) -> Tensor:
    """V(s) = τ log Σ_a exp(Q(s, a)/τ) (Haarnoja et al. 2017, eq. 5, counting measure).

    ``Q[..., a]`` → ``V[...]``. Computed as :func:`maxentrl.boltzmann.soft_maximum`
    with a zero log-prior (a log-sum-exp, so finite for any finite Q and τ > 0);
    it lies between max_a Q and max_a Q + τ log|A|.
    """
    return soft_maximum(Q, _tau_per_row(tau, Q), dim=-1, log_prior=torch.zeros_like(Q))


def soft_value_difference(Q1: Tensor, Q2: Tensor, tau: float | Tensor) -> Tensor:
    """V(Q₁) − V(Q₂) without cancellation: τ log Σ_a π_{Q₂}(a) exp(D(s, a)/τ), D = Q₁ − Q₂.

    An exact identity (divide Σ exp(Q₁/τ) by Σ exp(Q₂/τ)): the soft maximum of
    D under the Boltzmann policy of Q₂, hence between min_a D and max_a D, the
    step of Haarnoja et al.'s eq. 25. With m = max_a D and
    S = Σ_a π_{Q₂}(a) expm1((D − m)/τ) ∈ [−1, 0] it is m + τ log1p(S) when S is
    small (|D| ≪ τ) and m + τ log Σ π_{Q₂} exp((D − m)/τ) otherwise, so the
    rounding error stays a few ulps of ‖D‖∞ rather than of ‖Q‖∞ or of τ.
    ``[..., a]`` → ``[...]``.
    """
    t_row = _tau_per_row(tau, Q2)  # float, or [..., ] without the action axis
    t = t_row.unsqueeze(-1) if isinstance(t_row, Tensor) else t_row  # broadcasts against Q
    log_pi2 = boltzmann_log_policy(Q2, t_row, dim=-1, log_prior=torch.zeros_like(Q2))
    D = Q1 - Q2
    m = D.amax(dim=-1, keepdim=True)
    w = (D - m) / t  # ≤ 0
    S = (log_pi2.exp() * torch.expm1(w)).sum(dim=-1, keepdim=True)
    small = m + t * torch.log1p(S.clamp_min(-0.5))
    large = m + t * torch.logsumexp(w + log_pi2, dim=-1, keepdim=True)
    return torch.where(S > -0.5, small, large).squeeze(-1)


def maxent_policy(Q: Tensor, tau: float | Tensor) -> Tensor:
    """π(a|s) = exp((Q(s, a) − V(s))/τ) (Haarnoja et al. 2017, eq. 6); same shape as ``Q``.

    Renormalized over actions: when |Q|/τ is huge (10⁹ at τ = 10⁻⁴ and
    |Q| = 10⁵) the rounding of Q/τ alone moves the sum away from one.
    """
    pi = boltzmann_policy(Q, _tau_per_row(tau, Q), dim=-1, log_prior=torch.zeros_like(Q))
    return pi / pi.sum(dim=-1, keepdim=True)


def greedy_policy(Q: Tensor) -> Tensor:
    """The hard-max policy: one-hot on argmax_a Q(s, a), ties broken by the first action."""
    return torch.nn.functional.one_hot(Q.argmax(dim=-1), Q.shape[-1]).to(Q.dtype)


def expected_next_value(mdp: TabularMDP, V: Tensor) -> Tensor:
    """E_{s'∼P(·|s,a)}[V(s')] for ``V[b, s']``, as ``[b, s, a]``: one pass over ``P`` (a batched mat-vec).

    On the CPU, a batched matmul with a single right-hand column does not use
    the matrix-vector kernel and runs about 3× below memory bandwidth for
    large S (see the chapter's benchmark); there, a few large MDPs are done
    one ``torch.mv`` each. Many small MDPs (and every GPU) take ``torch.bmm``.
    """
    b, S, A = mdp.batch_size, mdp.n_states, mdp.n_actions
    P = mdp.P.reshape(b, S * A, S)
    V = V.to(mdp.dtype)
    if P.device.type == "cpu" and S >= 64 and b <= 64:
        return torch.stack([torch.mv(P[i], V[i]) for i in range(b)]).reshape(b, S, A)
    return torch.bmm(P, V.unsqueeze(-1)).reshape(b, S, A)


# -- backups -----------------------------------------------------------------
def soft_bellman_backup(Q: Tensor, mdp: TabularMDP, tau: float | Tensor) -> Tensor:
    """(T Q)(s, a) = r(s, a) + γ Σ_{s'} P(s'|s, a) V(s'), V = τ logsumexp(Q/τ) over a.

    The soft Bellman backup of Haarnoja et al. (2017), eqs. 8-9 (and 24 with
    τ = 1); a γ-contraction in the sup norm (their eq. 25). ``Q[b, s, a]`` in,
    ``[b, s, a]`` out.
    """
    _check_q(Q, mdp)
    V = soft_value(Q, tau)
    return mdp.r + _per_mdp(mdp.gamma, Q) * expected_next_value(mdp, V)


def hard_bellman_backup(Q: Tensor, mdp: TabularMDP) -> Tensor:
    """(T₀ Q)(s, a) = r(s, a) + γ Σ_{s'} P(s'|s, a) max_{a'} Q(s', a'): the τ → 0 limit of :func:`soft_bellman_backup`."""
    _check_q(Q, mdp)
    return mdp.r + _per_mdp(mdp.gamma, Q) * expected_next_value(mdp, Q.amax(dim=-1))


def _iterate(backup, mdp: TabularMDP, Q0: Tensor | None, tol: float, max_iter: int, record: bool):
    """Fixed-point iteration Q ← backup(Q) until γ/(1−γ)·‖TQ − Q‖∞ ≤ tol·max(1, ‖Q‖∞) in every MDP.

    An MDP also counts as converged once ‖TQ − Q‖∞ ≤ 16 eps·max(1, ‖Q‖∞), the
    rounding floor of one backup; ``error_bound`` then says how close it got.
    """
    require_positive("tol", tol)
    require_int_at_least("max_iter", max_iter, 1)
    shape = (mdp.batch_size, mdp.n_states, mdp.n_actions)
    Q = torch.zeros(shape, dtype=mdp.dtype, device=mdp.device) if Q0 is None else Q0.to(mdp.dtype)
    _check_q(Q, mdp)
    g = mdp.gamma_tensor()
    factor = g / (1 - g)
    residuals: list[Tensor] = []
    residual = torch.full((mdp.batch_size,), float("inf"), dtype=mdp.dtype, device=mdp.device)
    bound = residual
    floor = 16 * torch.finfo(mdp.dtype).eps
    done = torch.zeros(mdp.batch_size, dtype=torch.bool, device=mdp.device)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        Q_next = backup(Q)
        residual = (Q_next - Q).abs().amax(dim=(1, 2))
        Q = Q_next
        if record:
            residuals.append(residual)
        # ‖Q_k − Q*‖∞ ≤ γ/(1−γ) ‖Q_k − Q_{k−1}‖∞ for a γ-contraction
        bound = factor * residual
        scale = Q.abs().amax(dim=(1, 2)).clamp_min(1.0)
        # done: the bound is met, or the residual sits at the rounding floor where iterating cannot help
        done = (bound <= tol * scale) | (residual <= floor * scale)
        if bool(torch.all(done)):
            break
    converged = done
    info: dict[str, Any] = {"iterations": iterations, "residual": residual, "error_bound": bound, "converged": converged}
    if record:
        info["residuals"] = torch.stack(residuals, dim=0)  # [k, b]
    return Q, info


def soft_value_iteration(
    mdp: TabularMDP,
    tau: float | Tensor,
    *,
    Q0: Tensor | None = None,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    record: bool = False,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Soft Q-iteration (Haarnoja et al. 2017, Theorem 3, eqs. 8-9): Q* and V* of every MDP.

    Iterates :func:`soft_bellman_backup` from ``Q0`` (zeros by default) until,
    in every MDP, the a-posteriori bound γ/(1−γ)·‖Q_k − Q_{k−1}‖∞ on
    ‖Q_k − Q*‖∞ is at most ``tol · max(1, ‖Q_k‖∞)`` (relative for large
    values), or until the change per backup reaches the rounding floor
    16 eps·max(1, ‖Q_k‖∞), or ``max_iter`` backups.

    Returns ``(Q[b, S, A], V[b, S], info)``; ``info`` holds ``iterations``,
    ``residual[b]`` = ‖Q_k − Q_{k−1}‖∞, ``error_bound[b]``, ``converged[b]``
    and, with ``record=True``, ``residuals[k, b]``.
    """
    check_temperature(tau)
    Q, info = _iterate(lambda q: soft_bellman_backup(q, mdp, tau), mdp, Q0, tol, max_iter, record)
    return Q, soft_value(Q, tau), info


def value_iteration(
    mdp: TabularMDP,
    *,
    Q0: Tensor | None = None,
    tol: float = 1e-10,
    max_iter: int = 100_000,
    record: bool = False,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Hard Q-iteration with :func:`hard_bellman_backup`; same stopping rule and returns as :func:`soft_value_iteration`."""
    Q, info = _iterate(lambda q: hard_bellman_backup(q, mdp), mdp, Q0, tol, max_iter, record)
    return Q, Q.amax(dim=-1), info


# -- policies: evaluation and improvement ------------------------------------
def soft_policy_evaluation(
    mdp: TabularMDP,
    pi: Tensor,
    tau: float | Tensor,
    *,
    method: Literal["solve", "iterate"] = "solve",
    tol: float = 1e-12,
    max_iter: int = 100_000,
) -> tuple[Tensor, Tensor]:
    """Q^π and V^π of a fixed policy (Haarnoja et al. 2017, eq. 15, with α = τ).

    V^π(s) = E[Σ_{t≥0} γ^t (r_t + τ H(π(·|s_t))) | s₀ = s] solves the linear
    system (I − γ P_π) V = r_π + τ H_π; then Q^π = r + γ P V^π, which leaves
    out the first entropy term, so V^π = Σ_a π Q^π + τ H(π) (eq. 23).
    ``method="solve"`` uses a batched LU solve (O(S³) per MDP) with one step
    of iterative refinement;
    ``"iterate"`` applies V ← r_π + τ H_π + γ P_π V (O(S²A) per sweep) until
    γ/(1−γ)·‖ΔV‖∞ ≤ tol·max(1, ‖V‖∞).

    ``pi[b, s, a]`` in; ``(Q[b, s, a], V[b, s])`` out.
    """
    check_temperature(tau)
    _check_policy(pi, mdp)
    pi = pi.to(mdp.dtype)
    tau_b = _per_mdp(tau, mdp.r)  # float or [b, 1, 1]
    tau_s = tau_b if not isinstance(tau_b, Tensor) else tau_b.squeeze(-1)  # [b, 1]
    c = (pi * mdp.r).sum(-1) + tau_s * entropy(pi, dim=-1)  # [b, S]
    P_pi = policy_transition(mdp, pi)  # [b, S, S]
    g = mdp.gamma_tensor().reshape(-1, 1, 1)
    if method == "solve":
        eye = torch.eye(mdp.n_states, dtype=mdp.dtype, device=mdp.device).expand_as(P_pi)
        M = eye - g * P_pi
        LU, pivots = torch.linalg.lu_factor(M)
        V = torch.linalg.lu_solve(LU, pivots, c.unsqueeze(-1))
        # one step of iterative refinement: the error drops from ~cond·eps·‖V‖ to ~eps·‖V‖
        V = V + torch.linalg.lu_solve(LU, pivots, c.unsqueeze(-1) - M @ V)
        V = V.squeeze(-1)
    elif method == "iterate":
        require_positive("tol", tol)
        V = torch.zeros_like(c)
        factor = (g / (1 - g)).reshape(-1)
        for _ in range(max_iter):
            V_next = c + g.squeeze(-1) * torch.bmm(P_pi, V.unsqueeze(-1)).squeeze(-1)
            delta = (V_next - V).abs().amax(dim=-1)
            V = V_next
            if bool(torch.all(factor * delta <= tol * V.abs().amax(dim=-1).clamp_min(1.0))):
                break
    else:
        raise ConfigError(f"method must be 'solve' or 'iterate', got {method!r}")
    Q = mdp.r + _per_mdp(mdp.gamma, mdp.r) * expected_next_value(mdp, V)
    return Q, V


def soft_policy_iteration(
    mdp: TabularMDP,
    tau: float | Tensor,
    *,
    pi0: Tensor | None = None,
    tol: float = 1e-12,
    max_iter: int = 1_000,
    keep_history: bool = True,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Soft policy iteration (Haarnoja et al. 2017, eq. 21): π_{i+1} ∝ exp(Q^{π_i}/τ).

    Starts from ``pi0`` (uniform by default), evaluates each policy exactly with
    :func:`soft_policy_evaluation` and improves it with :func:`maxent_policy`
    (eq. 17). Theorem 4 says Q^{π_{i+1}} ≥ Q^{π_i} elementwise. An MDP stops
    (keeps its policy) once ‖Q^{π_{i+1}} − Q^{π_i}‖∞ ≤ tol·max(1, ‖Q‖∞); the
    loop ends when all have stopped, or after ``max_iter`` improvements.

    Returns ``(pi, Q, history)``: the last policy, its Q^π, and a dict with
    ``iterations``, ``min_improvement[i]`` = min over the MDPs still running
    and all (s, a) of Q^{π_{i+1}} − Q^{π_i}, ``active[i]`` = how many were
    still running, and (with ``keep_history``) the lists ``Q`` and ``pi`` of
    every iterate.
    """
    check_temperature(tau)
    require_int_at_least("max_iter", max_iter, 1)
    if pi0 is None:
        pi = torch.full((mdp.batch_size, mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions, dtype=mdp.dtype, device=mdp.device)
    else:
        pi = pi0.to(mdp.dtype)
    Q, _ = soft_policy_evaluation(mdp, pi, tau)
    history: dict[str, Any] = {"iterations": 0, "min_improvement": [], "active": []}
    if keep_history:
        history["Q"], history["pi"] = [Q], [pi]
    active = torch.ones(mdp.batch_size, dtype=torch.bool, device=mdp.device)
    for i in range(1, max_iter + 1):
        pi_new = maxent_policy(Q, tau)
        Q_next, _ = soft_policy_evaluation(mdp, pi_new, tau)
        # converged MDPs keep their policy: past convergence a step only adds rounding noise
        keep = active.view(-1, 1, 1)
        pi_new = torch.where(keep, pi_new, pi)
        Q_next = torch.where(keep, Q_next, Q)
        diff = Q_next - Q
        history["min_improvement"].append(float(diff[active].min()))
        history["active"].append(int(active.sum()))
        history["iterations"] = i
        if keep_history:
            history["Q"].append(Q_next)
            history["pi"].append(pi_new)
        change = diff.abs().amax(dim=(1, 2))
        pi, Q = pi_new, Q_next
        active = active & (change > tol * Q.abs().amax(dim=(1, 2)).clamp_min(1.0))
        if not bool(active.any()):
            break
    return pi, Q, history


# -- Schulman et al.'s backups: Boltzmann and n-step --------------------------
def fixed_policy_backup(Q: Tensor, mdp: TabularMDP, pi: Tensor, tau: float | Tensor) -> Tensor:
    """(T_π Q)(s, a) = r + γ E_{s'}[Σ_{a'} π(a'|s') Q(s', a') + τ H(π(·|s'))].

    The fixed-policy backup of Schulman et al. (2017, eq. 33) in the entropy
    convention of this module (their −τ KL with a uniform π̄ is +τ H − τ log|A|).
    Its fixed point is Q^π of :func:`soft_policy_evaluation`.
    """
    _check_q(Q, mdp)
    _check_policy(pi, mdp)
    tau_s = _per_mdp(tau, Q[..., 0])
    V = (pi * Q).sum(-1) + tau_s * entropy(pi, dim=-1)
    return mdp.r + _per_mdp(mdp.gamma, Q) * expected_next_value(mdp, V)


def boltzmann_backup(Q: Tensor, mdp: TabularMDP, tau: float | Tensor, *, log_prior: Tensor | None = None) -> Tensor:
    """[𝒯Q](s, a) = r + γ E_{s'}[τ log E_{a'∼π̄} exp(Q(s', a')/τ)] (Schulman et al. 2017, eqs. 38-39).

    The KL-penalty convention: ``log_prior`` is log π̄[b, s, a] (uniform when
    None). With a uniform π̄ it differs from :func:`soft_bellman_backup` only
    through V_Q = V − τ log|A|, so its fixed point is Q* − γτ log|A|/(1−γ).
    """
    _check_q(Q, mdp)
    V = soft_maximum(Q, _tau_per_row(tau, Q), dim=-1, log_prior=log_prior)
    return mdp.r + _per_mdp(mdp.gamma, Q) * expected_next_value(mdp, V)


def n_step_boltzmann_backup(Q: Tensor, mdp: TabularMDP, tau: float | Tensor, n: int) -> Tensor:
    """(T_{π^B_Q})^n Q: n fixed-policy backups with the Boltzmann policy of ``Q`` held fixed (Schulman et al. 2017, eqs. 40-41).

    For n = 1 this is the soft backup :func:`soft_bellman_backup`; for n > 1 it
    differs from n soft backups T^n Q, because the policy is that of the
    original Q throughout. Q* is a fixed point of both.
    """
    require_int_at_least("n", n, 1)
    pi = maxent_policy(Q, tau)
    out = Q
    for _ in range(n):
        out = fixed_policy_backup(out, mdp, pi, tau)
    return out
