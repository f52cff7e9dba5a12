"""Soft Q-learning's gradient is a policy gradient: the identities of Schulman, Chen and Abbeel (2017).

Everything here is exact and differentiable, for checking the identities in
float64 with autograd:

* the bandit form (eqs. 8-23): for a parametrized ``q_θ`` and its Boltzmann
  policy ``π = π^B_{q_θ}``, the gradient of the squared error
  ``½ E_{a∼π, r}[(q_θ(a) − r)²]`` (π held fixed) equals
  ``−τ ∇η(π_θ)`` (the policy gradient of the regularized objective, eq. 1)
  plus the gradient of ``½ E[(v_θ − (r − τ KL))²]`` (the target held fixed);
* the MDP form (eqs. 55-65): with ``V_θ = τ log E_{π̄}[exp(Q_θ/τ)]`` and
  ``π_θ = π̄ exp((Q_θ − V_θ)/τ)``, the gradient of the n-step soft Q-learning
  loss equals the n-step policy gradient ``−τ ∇log π_θ Δ + τ² ∇KL`` plus the
  gradient of the value error ``½ (V_θ − V̂)²``, once the expectation over the
  first action is exact.

Parametrizations are pure functions of a flat parameter vector ``theta[p]``
(:func:`linear_q`, :func:`mlp_q`), so that gradients are vectors that can be
compared entry by entry. The gradient of a *loss* is taken with the sampling
distribution and the regression target held fixed (``.detach()``), as the paper
does ("swap gradient and expectation, treating state distribution as fixed").

Index order: ``Q[s, a]``, ``P[s, a, s']``, features ``phi[s, a, k]`` (MDP) or
``phi[a, k]`` (bandit); enumerated paths are batch first: ``states[M, n+1]``,
``actions[M, n]``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from maxentrl.boltzmann import boltzmann_log_policy, check_temperature, soft_maximum
from maxentrl.errors import ConfigError, require_int_at_least

__all__ = [
    "linear_q",
    "mlp_q",
    "mlp_parameter_count",
    "bandit_squared_error_loss",
    "bandit_objective",
    "bandit_value_error",
    "bandit_gradient_terms",
    "soft_value_and_log_policy",
    "Paths",
    "enumerate_paths",
    "n_step_soft_td",
    "soft_q_target",
    "soft_q_regression_loss",
    "policy_gradient_surrogate",
    "per_path_gradients",
]


# -- parametrizations ---------------------------------------------------------
def linear_q(theta: Tensor, phi: Tensor) -> Tensor:
    """q_θ = φ·θ: ``phi[..., k]``, ``theta[k]`` → ``[...]``."""
    if phi.shape[-1] != theta.shape[-1]:
        raise ConfigError(f"features have {phi.shape[-1]} entries but theta has {theta.shape[-1]}")
    return phi @ theta


def mlp_parameter_count(k: int, hidden: int) -> int:
    """Number of entries of ``theta`` for :func:`mlp_q` with ``k`` inputs and ``hidden`` units."""
    return k * hidden + hidden + hidden + 1


def mlp_q(theta: Tensor, phi: Tensor, *, hidden: int) -> Tensor:
    """q_θ = w₂·tanh(W₁ φ + b₁) + b₂, one hidden layer; ``theta`` packs (W₁[h, k], b₁[h], w₂[h], b₂).

    ``phi[..., k]`` → ``[...]``; ``theta`` has :func:`mlp_parameter_count` entries.
    """
    k = phi.shape[-1]
    if theta.shape[-1] != mlp_parameter_count(k, hidden):
        raise ConfigError(f"theta has {theta.shape[-1]} entries, an MLP with {k} inputs and {hidden} units needs "
                          f"{mlp_parameter_count(k, hidden)}")
    W1 = theta[: k * hidden].reshape(hidden, k)
    b1 = theta[k * hidden : k * hidden + hidden]
    w2 = theta[k * hidden + hidden : k * hidden + 2 * hidden]
    b2 = theta[-1]
    return torch.tanh(phi @ W1.T + b1) @ w2 + b2


# -- the bandit (eqs. 8-23) -----------------------------------------------------
def bandit_squared_error_loss(q: Tensor, rewards: Tensor, reward_probs: Tensor, pi: Tensor) -> Tensor:
    """L_π(θ) = ½ E_{a∼π, r∼P(r|a)}[(q(a) − r)²] (Schulman et al. 2017, eq. 8), exactly.

    ``q[A]``; rewards take the values ``rewards[A, K]`` with probabilities
    ``reward_probs[A, K]``; ``pi[A]`` is the sampling policy (pass it detached
    to hold it fixed, as eq. 9 does).
    """
    return 0.5 * (pi.unsqueeze(-1) * reward_probs * (q.unsqueeze(-1) - rewards) ** 2).sum()


def bandit_objective(log_pi: Tensor, r_bar: Tensor, log_prior: Tensor, tau: float) -> Tensor:
    """η(π) = E_{a∼π}[r̄(a)] − τ D_KL[π ‖ π̄] (eq. 1), from ``log_pi[A]``, ``r_bar[A]``, ``log_prior[A]``."""
    check_temperature(tau)
    pi = log_pi.exp()
    return (pi * r_bar).sum() - tau * (pi * (log_pi - log_prior)).sum()


def bandit_value_error(v: Tensor, rewards: Tensor, reward_probs: Tensor, kl: Tensor, pi: Tensor) -> Tensor:
    """½ E_{a∼π, r}[(v − (r − τ KL))²], the second term of eq. 23, with ``kl`` = τ·KL already multiplied in.

    Pass ``kl`` and ``pi`` detached: the gradient of this term is the gradient
    of a regression of v_θ onto the fixed target r − τ KL (eq. 22's second term).
    """
    return 0.5 * (pi.unsqueeze(-1) * reward_probs * (v - (rewards - kl)) ** 2).sum()


def bandit_gradient_terms(
    q_fn: Callable[[Tensor], Tensor],
    theta: Tensor,
    rewards: Tensor,
    reward_probs: Tensor,
    log_prior: Tensor,
    tau: float,
) -> dict[str, Tensor]:
    """The three gradients of eq. 23 for ``q = q_fn(theta)`` (shape ``[A]``), by autograd.

    Returns ``{"squared_error": ∇L, "policy_gradient": −τ ∇η(π_θ), "value_error": ∇½E[(v − (r − τKL))²]}``,
    each of the shape of ``theta``. Eq. 23 says the first is the sum of the other two.
    """
    check_temperature(tau)
    theta = theta.detach().requires_grad_(True)
    q = q_fn(theta)
    v = soft_maximum(q, tau, log_prior=log_prior)  # eq. 11
    log_pi = boltzmann_log_policy(q, tau, log_prior=log_prior)  # eq. 12
    pi = log_pi.exp()
    kl = (pi * (log_pi - log_prior)).sum()
    r_bar = (rewards * reward_probs).sum(-1)
    (g_sq,) = torch.autograd.grad(bandit_squared_error_loss(q, rewards, reward_probs, pi.detach()), theta,
                                  retain_graph=True)
    (g_eta,) = torch.autograd.grad(bandit_objective(log_pi, r_bar, log_prior, tau), theta, retain_graph=True)
    (g_v,) = torch.autograd.grad(bandit_value_error(v, rewards, reward_probs, (tau * kl).detach(), pi.detach()), theta)
    return {"squared_error": g_sq, "policy_gradient": -tau * g_eta, "value_error": g_v}


# -- the MDP (eqs. 36-65) -------------------------------------------------------
def soft_value_and_log_policy(Q: Tensor, tau: float, log_prior: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """V_θ (eq. 55), log π_θ (eq. 56) and KL[π_θ ‖ π̄] per state from ``Q[..., A]`` and ``log_prior[..., A]``."""
    V = soft_maximum(Q, tau, log_prior=log_prior)
    log_pi = boltzmann_log_policy(Q, tau, log_prior=log_prior)
    kl = (log_pi.exp() * (log_pi - log_prior)).sum(-1)
    return V, log_pi, kl


@dataclass(frozen=True)
class Paths:
    """Every n-step continuation of a finite MDP, with its probability.

    Attributes:
        states: ``[M, n+1]`` the states s_t, …, s_{t+n}.
        actions: ``[M, n]`` the actions a_t, …, a_{t+n−1}.
        weight: ``[M]`` d(s_t) π(a_t|s_t) Π_d P(s_{t+d+1}|s_{t+d}, a_{t+d}) π(a_{t+d+1}|s_{t+d+1}); sums to 1.
    """

    states: Tensor
    actions: Tensor
    weight: Tensor

    @property
    def n(self) -> int:
        return self.actions.shape[1]


def enumerate_paths(P: Tensor, pi: Tensor, d: Tensor, n: int, *, max_paths: int = 2_000_000) -> Paths:
    """All ``S·(A·S)ⁿ`` paths (s_t, a_t, …, s_{t+n}) with s_t ∼ d, actions from ``pi``, moves from ``P``.

    ``P[s, a, s']``, ``pi[s, a]``, ``d[s]``. Paths of probability zero are kept
    (weight 0). Refuses more than ``max_paths`` paths.
    """
    require_int_at_least("n", n, 1)
    S, A = pi.shape
    if tuple(P.shape) != (S, A, S) or tuple(d.shape) != (S,):
        raise ConfigError(f"P must be [S, A, S] = {(S, A, S)} and d [S] = {(S,)}, got {tuple(P.shape)}, {tuple(d.shape)}")
    M = S * (A * S) ** n
    if M > max_paths:
        raise ConfigError(f"{M} paths to enumerate exceed max_paths={max_paths}; use fewer states, actions or steps")
    steps = torch.tensor(list(itertools.product(range(A * S), repeat=n)), dtype=torch.long, device=P.device)  # [(AS)^n, n]
    starts = torch.arange(S, device=P.device)
    s0 = starts.repeat_interleave(steps.shape[0])  # [M]
    steps = steps.repeat(S, 1)  # [M, n]
    actions = steps // S
    nxt = steps % S
    states = torch.cat([s0.unsqueeze(1), nxt], dim=1)  # [M, n+1]
    weight = d[s0].clone()
    for t in range(n):
        weight = weight * pi[states[:, t], actions[:, t]] * P[states[:, t], actions[:, t], states[:, t + 1]]
    return Paths(states=states, actions=actions, weight=weight)


def n_step_soft_td(r: Tensor, kl: Tensor, V: Tensor, gamma: float, tau: float) -> Tensor:
    """Δ_t = Σ_{d<n} γᵈ δ_{t+d} with δ_t = (r_t − τ KL_t) + γ V(s_{t+1}) − V(s_t) (eqs. 36 and 47).

    ``r[M, n]``, ``kl[M, n]`` (KL at s_{t+d}), ``V[M, n+1]`` (V at s_{t+d}) → ``[M]``.
    """
    n = r.shape[1]
    discount = gamma ** torch.arange(n, dtype=r.dtype, device=r.device)
    delta = r - tau * kl + gamma * V[:, 1:] - V[:, :-1]
    return (discount * delta).sum(-1)


def soft_q_target(kl_t: Tensor, V_t: Tensor, Delta: Tensor, tau: float) -> Tensor:
    """y_t = τ KL_t + V(s_t) + Δ_t, the n-step soft Q-learning target (eqs. 46-47), elementwise."""
    return tau * kl_t + V_t + Delta


def soft_q_regression_loss(Q_sa: Tensor, y: Tensor, weight: Tensor) -> Tensor:
    """Σ_m w_m ½ (Q_θ(s_t, a_t) − y_t)² (eqs. 44 and 58); pass ``y`` and ``weight`` detached."""
    return 0.5 * (weight * (Q_sa - y) ** 2).sum()


def policy_gradient_surrogate(
    log_pi_a: Tensor, kl_s: Tensor, V_s: Tensor, Delta: Tensor, weight: Tensor, tau: float
) -> Tensor:
    """Σ_m w_m [−τ log π_θ(a_t|s_t) Δ_t + τ² KL_θ(s_t) + ½ (V_θ(s_t) − V̂_t)²] with V̂_t = V(s_t) + Δ_t (eq. 65).

    Its gradient is the right-hand side of eq. 65: the n-step policy gradient
    (eq. 52) scaled by τ, plus the value-error gradient. ``Delta`` and
    ``weight`` must be detached; ``V̂`` is formed from a detached ``V_s``.
    """
    V_hat = V_s.detach() + Delta
    return (weight * (-tau * log_pi_a * Delta + tau**2 * kl_s + 0.5 * (V_s - V_hat) ** 2)).sum()


def per_path_gradients(
    jacobian: Tensor, paths: Paths, Q: Tensor, Delta: Tensor, log_prior: Tensor, tau: float
) -> tuple[Tensor, Tensor]:
    """Single-sample gradients of both estimators for every enumerated path.

    ``jacobian[S, A, p]`` = ∂Q_θ(s, a)/∂θ, ``Q[S, A]`` (values), ``Delta[M]``,
    ``log_prior[S, A]``. Returns ``(g_q, g_pg)``, each ``[M, p]``: the gradient
    of ½(Q_θ(s_t, a_t) − y_t)² and of −τ log π_θ(a_t|s_t) Δ_t + τ² KL_θ(s_t) + ½(V_θ(s_t) − V̂_t)²
    for the path's sample alone. Their ``weight``-averages are the two sides of eq. 65.
    Computed by autograd with respect to the row Q_θ(s_t, ·), then the chain rule.
    """
    s0, a0 = paths.states[:, 0], paths.actions[:, 0]
    rows = Q[s0].detach().clone().requires_grad_(True)  # [M, A]
    V, log_pi, kl = soft_value_and_log_policy(rows, tau, log_prior[s0])
    Q_sa = rows.gather(1, a0.unsqueeze(1)).squeeze(1)
    y = soft_q_target(kl, V, Delta, tau).detach()
    ones = torch.ones_like(Delta)
    (h_q,) = torch.autograd.grad(soft_q_regression_loss(Q_sa, y, ones), rows, retain_graph=True)
    log_pi_a = log_pi.gather(1, a0.unsqueeze(1)).squeeze(1)
    (h_pg,) = torch.autograd.grad(policy_gradient_surrogate(log_pi_a, kl, V, Delta.detach(), ones, tau), rows)
    J = jacobian[s0]  # [M, A, p]
    return torch.einsum("ma,map->mp", h_q, J), torch.einsum("ma,map->mp", h_pg, J)

