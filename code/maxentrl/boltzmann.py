"""The soft maximum and the Boltzmann distribution it induces.

Notation (the book's, see the notation page): ``tau`` is the temperature
τ > 0 (Haarnoja et al.'s α, the λ of the functional-derivative derivation);
``log_prior`` is log π̄, the log of the reference distribution of Schulman et
al. (2017, eq. 1). Leaving it out means the uniform reference, for which the
KL penalty is the entropy bonus up to the constant log|A|.

All functions reduce over ``dim`` (default the last, the action axis) and
broadcast ``tau`` against the other axes, so a batch of problems with one
temperature each is one call.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from maxentrl.errors import ConfigError

__all__ = [
    "check_temperature",
    "soft_maximum",
    "boltzmann_policy",
    "boltzmann_log_policy",
    "entropy",
    "kl_divergence",
    "regularized_objective",
]


def check_temperature(tau: float | Tensor) -> None:
    """Raise :class:`ConfigError` unless every temperature is positive and finite."""
    if isinstance(tau, Tensor):
        if not bool(torch.all(torch.isfinite(tau) & (tau > 0))):
            raise ConfigError("temperature tau must be positive and finite everywhere")
    elif not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ConfigError(f"temperature tau must be positive and finite, got {tau!r}")


def _log_weights(x: Tensor, log_prior: Tensor | None, dim: int) -> Tensor:
    """log π̄ broadcast to ``x``; the uniform reference when ``log_prior`` is None."""
    if log_prior is None:
        return torch.full_like(x, -math.log(x.shape[dim]))
    try:
        return log_prior.to(dtype=x.dtype, device=x.device).expand_as(x)
    except RuntimeError:
        raise ConfigError(f"log_prior of shape {tuple(log_prior.shape)} does not broadcast to x of shape {tuple(x.shape)}") from None


def _tau_like(tau: float | Tensor, x: Tensor, dim: int) -> Tensor | float:
    """``tau`` as a scalar, or a tensor with a singleton at ``dim`` that broadcasts to ``x``."""
    if isinstance(tau, Tensor):
        return tau.to(dtype=x.dtype, device=x.device).unsqueeze(dim)
    return tau


def soft_maximum(x: Tensor, tau: float | Tensor, *, dim: int = -1, log_prior: Tensor | None = None) -> Tensor:
    """τ log E_{a∼π̄}[exp(x_a/τ)]: the soft maximum of ``x`` over ``dim``.

    With a uniform reference this is τ logsumexp(x/τ) − τ log|A|; it is the
    normalizer of the Boltzmann policy (Schulman et al. 2017, eq. 11) and the
    optimal value of the regularized objective (eq. 6). It lies between the
    π̄-mean of ``x`` and max(x), tending to the max as τ → 0 and to the mean as
    τ → ∞. Computed with ``torch.logsumexp``, so it is finite for any finite
    ``x`` and any τ > 0.

    Shapes: ``x`` is ``(..., A, ...)``; ``tau`` a float or a tensor of the shape
    of ``x`` without ``dim``; the result drops ``dim``.
    """
    check_temperature(tau)
    t = _tau_like(tau, x, dim)
    z = x / t + _log_weights(x, log_prior, dim)
    return (t * torch.logsumexp(z, dim=dim, keepdim=True)).squeeze(dim)


def boltzmann_log_policy(x: Tensor, tau: float | Tensor, *, dim: int = -1, log_prior: Tensor | None = None) -> Tensor:
    """log π^B(a) = log π̄(a) + (x_a − v)/τ with v the soft maximum (Schulman eq. 12)."""
    check_temperature(tau)
    t = _tau_like(tau, x, dim)
    z = x / t + _log_weights(x, log_prior, dim)
    return z - torch.logsumexp(z, dim=dim, keepdim=True)


def boltzmann_policy(x: Tensor, tau: float | Tensor, *, dim: int = -1, log_prior: Tensor | None = None) -> Tensor:
    """π^B(a) ∝ π̄(a) exp(x_a/τ) (Schulman et al. 2017, eqs. 2 and 10); same shape as ``x``."""
    return boltzmann_log_policy(x, tau, dim=dim, log_prior=log_prior).exp()


def entropy(p: Tensor, *, dim: int = -1) -> Tensor:
    """H(p) = −Σ p log p over ``dim``, with 0 log 0 = 0."""
    return -torch.special.xlogy(p, p).sum(dim=dim)


def kl_divergence(p: Tensor, q: Tensor, *, dim: int = -1) -> Tensor:
    """D_KL[p ‖ q] = Σ p (log p − log q) over ``dim``, with 0 log 0 = 0."""
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=dim)


def regularized_objective(
    pi: Tensor, r: Tensor, tau: float | Tensor, *, dim: int = -1, prior: Tensor | None = None
) -> Tensor:
    """η(π) = E_{a∼π}[r̄(a)] − τ D_KL[π ‖ π̄] (Schulman et al. 2017, eq. 1).

    ``prior`` is π̄ itself (not its log); uniform when left out.
    """
    check_temperature(tau)
    if prior is None:
        prior = torch.full_like(pi, 1.0 / pi.shape[dim])
    t = tau if not isinstance(tau, Tensor) else tau.to(dtype=pi.dtype, device=pi.device)
    return (pi * r).sum(dim=dim) - t * kl_divergence(pi, prior, dim=dim)
