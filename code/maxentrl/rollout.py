"""Monte-Carlo rollouts of a tabular policy and their entropy-augmented returns.

The convention is that of Haarnoja et al. (2017, eq. 2, discounted as in
their Appendix A): the entropy sits inside the sum over time, next to the
reward of the same step,

    G = Σ_{t=0}^{T−1} γ^t (r(s_t, a_t) + τ H(π(·|s_t))),

so the first entropy term, τ H(π(·|s₀)), belongs to the start state s₀. Its
expectation is V^π(s₀) of :func:`maxentrl.soft_bellman.soft_policy_evaluation`
(up to the truncation at T); Q^π(s₀, a₀) is the same expectation *without*
that first term, since it cannot depend on a₀ (eq. 15).

Schulman et al. (2017, eqs. 24-26) write the same sum with −τ KL[π ‖ π̄](s_t)
in place of +τ H(π(·|s_t)) and likewise keep the first penalty out of Q and
in V. With a uniform π̄, −τ KL = τ H − τ log|A|: their returns are these
minus the constant τ log|A| (1 − γ^T)/(1 − γ).

With ``entropy="sampled"`` the bonus of step t is −τ log π(a_t|s_t) of the
sampled action instead of its expectation τ H(π(·|s_t)): the same mean, more
variance (what a model-free learner sees).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from maxentrl.boltzmann import check_temperature, entropy
from maxentrl.errors import ConfigError, require_indices, require_int_at_least
from maxentrl.mdp import TabularMDP

__all__ = ["rollout_returns", "truncation_bound", "horizon_for"]


def _sample_rows(cdf: Tensor, u: Tensor) -> Tensor:
    """Index of the first entry of each CDF row ``cdf[n, k]`` that exceeds ``u[n]`` (inverse-CDF sampling).

    Rows must end in exactly 1 (see :func:`_cdf`); entries of zero probability are never chosen.
    """
    idx = (cdf <= u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp_max(cdf.shape[-1] - 1)


def _cdf(p: Tensor) -> Tensor:
    """Cumulative sums over the last axis, rescaled so that the last entry is exactly 1."""
    c = p.cumsum(-1)
    return c / c[..., -1:]


def rollout_returns(
    mdp: TabularMDP,
    pi: Tensor,
    tau: float | Tensor,
    *,
    n_episodes: int,
    horizon: int,
    generator: torch.Generator,
    start_state: int | Tensor | None = None,
    entropy_term: Literal["exact", "sampled"] = "exact",
) -> Tensor:
    """Entropy-augmented discounted returns of ``n_episodes`` rollouts of ``pi`` in every MDP.

    Args:
        mdp: ``b`` MDPs.
        pi: policy ``pi[b, s, a]``.
        tau: temperature τ (float or ``[b]``).
        n_episodes: rollouts per MDP.
        horizon: T, the number of steps (the tail beyond T is at most
            :func:`truncation_bound`).
        generator: the source of randomness (on the MDP's device).
        start_state: a state index (or ``[b]`` indices) every episode starts
            from; by default s₀ ∼ μ₀.
        entropy_term: ``"exact"`` adds τ H(π(·|s_t)); ``"sampled"`` adds
            −τ log π(a_t|s_t).

    Returns:
        ``G[b, n_episodes]`` with G = Σ_{t<T} γ^t (r_t + τ·bonus_t).
    """
    check_temperature(tau)
    require_int_at_least("n_episodes", n_episodes, 1)
    require_int_at_least("horizon", horizon, 1)
    if entropy_term not in ("exact", "sampled"):
        raise ConfigError(f"entropy_term must be 'exact' or 'sampled', got {entropy_term!r}")
    b, S, A = mdp.batch_size, mdp.n_states, mdp.n_actions
    if tuple(pi.shape) != (b, S, A):
        raise ConfigError(f"pi must have shape [b, S, A] = {(b, S, A)}, got {tuple(pi.shape)}")
    tol = 1e-9 if pi.dtype == torch.float64 else 1e-4
    if not bool(torch.all(pi >= 0)) or not bool(torch.all((pi.sum(-1) - 1).abs() <= tol)):
        raise ConfigError("pi[b, s, :] must be a probability distribution over actions in every state")
    dev, dt = mdp.device, mdp.dtype
    pi = pi.to(dt)
    tau_b = (tau.to(dtype=dt, device=dev) if isinstance(tau, Tensor) else torch.full((b,), float(tau), dtype=dt, device=dev))
    tau_n = tau_b.repeat_interleave(n_episodes)  # [b*n]
    gamma_n = mdp.gamma_tensor().repeat_interleave(n_episodes)
    H = entropy(pi, dim=-1)  # [b, S]
    log_pi = torch.log(pi)  # -inf where pi = 0; such actions are never sampled
    cdf_pi = _cdf(pi)  # [b, S, A]
    cdf_P = _cdf(mdp.P)  # [b, S, A, S]
    mdp_of = torch.arange(b, device=dev).repeat_interleave(n_episodes)  # [b*n]
    N = b * n_episodes
    if start_state is None:
        u = torch.rand(N, generator=generator, dtype=dt, device=dev)
        s = _sample_rows(_cdf(mdp.mu0)[mdp_of], u)
    elif isinstance(start_state, Tensor):
        if tuple(start_state.shape) != (b,):
            raise ConfigError(f"start_state must be one index or a tensor [b] = ({b},), got shape {tuple(start_state.shape)}")
        require_indices("start_state", start_state, S)
        s = start_state.to(dev).long().repeat_interleave(n_episodes)
    else:
        require_indices("start_state", start_state, S)
        s = torch.full((N,), int(start_state), dtype=torch.long, device=dev)
    G = torch.zeros(N, dtype=dt, device=dev)
    discount = torch.ones(N, dtype=dt, device=dev)
    for _ in range(horizon):
        a = _sample_rows(cdf_pi[mdp_of, s], torch.rand(N, generator=generator, dtype=dt, device=dev))
        if entropy_term == "exact":
            bonus = H[mdp_of, s]
        else:
            bonus = -log_pi[mdp_of, s, a]
        G = G + discount * (mdp.r[mdp_of, s, a] + tau_n * bonus)
        s = _sample_rows(cdf_P[mdp_of, s, a], torch.rand(N, generator=generator, dtype=dt, device=dev))
        discount = discount * gamma_n
    return G.reshape(b, n_episodes)


def truncation_bound(mdp: TabularMDP, tau: float | Tensor, horizon: int) -> Tensor:
    """γ^T (max|r| + τ log|A|)/(1 − γ): the most the steps t ≥ T can add to a return; ``[b]``."""
    g = mdp.gamma_tensor()
    tau_b = tau.to(g) if isinstance(tau, Tensor) else torch.full_like(g, float(tau))
    r_max = mdp.r.abs().amax(dim=(1, 2))
    return g**horizon * (r_max + tau_b * math.log(mdp.n_actions)) / (1 - g)


def horizon_for(gamma: float, tolerance: float) -> int:
    """The smallest T with γ^T ≤ ``tolerance`` (how long a rollout must be for a given tail)."""
    if not (0 < gamma < 1) or not (0 < tolerance < 1):
        raise ConfigError(f"need 0 < gamma < 1 and 0 < tolerance < 1, got {gamma!r}, {tolerance!r}")
    return max(1, math.ceil(math.log(tolerance) / math.log(gamma)))
