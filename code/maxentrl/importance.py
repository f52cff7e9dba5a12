"""The importance-sampled soft value for continuous actions (Haarnoja et al. 2017, eq. 10).

With a continuous action set the soft value is an integral,

    V(s) = τ log ∫ exp(Q(s, a)/τ) da = τ log E_{a∼q}[exp(Q(s, a)/τ) / q(a)],

for any proposal density q that is positive wherever exp(Q/τ) is. With K
draws a_k ∼ q the average of the weights w_k = exp(Q(s, a_k)/τ)/q(a_k) is an
unbiased estimate of the partition function Z = exp(V/τ) ("unbiased in
exp-space"); its logarithm times τ, the estimate of V itself, is biased low
by Jensen's inequality, the bias shrinking as 1/K. With the Boltzmann
proposal q = exp((Q − V)/τ) every weight equals Z and the variance is zero.

Everything is computed in log-space (log w_k = Q/τ − log q), so large Q/τ
never overflows. Shapes: samples along the last axis ``[..., K]``.

The module also has what the book's one-dimensional example needs: proposals
on an interval [low, high] that draw from a ``torch.Generator`` and return
their log-densities, exact sampling from the Boltzmann density by rejection,
and the reference value by quadrature.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.boltzmann import check_temperature
from maxentrl.errors import ConfigError, require_finite, require_int_at_least, require_positive

__all__ = [
    "log_importance_weights",
    "log_partition_importance",
    "soft_value_importance",
    "soft_value_quadrature",
    "uniform_proposal",
    "tilted_proposal",
    "boltzmann_rejection_sample",
]


def _tau_like(tau: float | Tensor, x: Tensor) -> float | Tensor:
    check_temperature(tau)
    if isinstance(tau, Tensor):
        return tau.to(dtype=x.dtype, device=x.device).unsqueeze(-1)
    return float(tau)


def log_importance_weights(Q_samples: Tensor, log_q: Tensor, tau: float | Tensor) -> Tensor:
    """log w_k = Q(s, a_k)/τ − log q(a_k) for draws a_k ∼ q; ``[..., K]``.

    ``tau`` is a float or a tensor of the batch shape ``[...]``.
    """
    if Q_samples.shape != log_q.shape:
        raise ConfigError(f"Q_samples and log_q must have one shape, got {tuple(Q_samples.shape)} and {tuple(log_q.shape)}")
    require_finite("Q_samples", Q_samples)
    if not bool(torch.all(torch.isfinite(log_q))):
        raise ConfigError("the proposal density must be positive (finite log q) at every sample")
    return Q_samples / _tau_like(tau, Q_samples) - log_q


def log_partition_importance(Q_samples: Tensor, log_q: Tensor, tau: float | Tensor) -> Tensor:
    """log Ẑ with Ẑ = (1/K) Σ_k w_k, the unbiased estimate of Z = ∫ exp(Q/τ) da; ``[...]``."""
    lw = log_importance_weights(Q_samples, log_q, tau)
    return torch.logsumexp(lw, dim=-1) - math.log(lw.shape[-1])


def soft_value_importance(Q_samples: Tensor, log_q: Tensor, tau: float | Tensor) -> Tensor:
    """V̂(s) = τ log (1/K) Σ_k exp(Q(s, a_k)/τ)/q(a_k) (Haarnoja et al. 2017, eq. 10); ``[...]``.

    exp(V̂/τ) = Ẑ is unbiased for exp(V/τ); V̂ itself is biased low (Jensen).
    """
    t = tau if not isinstance(tau, Tensor) else tau.to(dtype=Q_samples.dtype, device=Q_samples.device)
    return t * log_partition_importance(Q_samples, log_q, tau)


def soft_value_quadrature(
    Q_fn: Callable[[Tensor], Tensor], tau: float, low: float, high: float, *, n_points: int = 200_001, dtype: torch.dtype = torch.float64
) -> float:
    """τ log ∫_low^high exp(Q(a)/τ) da by composite Simpson's rule in log-space: the reference value.

    ``Q_fn`` maps actions ``[n]`` to values ``[n]``; ``n_points`` must be odd.
    With a smooth Q the error is O(h⁴), far below float64 noise at the default.
    """
    check_temperature(tau)
    require_int_at_least("n_points", n_points, 3)
    if n_points % 2 == 0:
        raise ConfigError(f"n_points must be odd for Simpson's rule, got {n_points}")
    if not high > low:
        raise ConfigError(f"need high > low, got [{low}, {high}]")
    a = torch.linspace(low, high, n_points, dtype=dtype)
    h = (high - low) / (n_points - 1)
    w = torch.ones(n_points, dtype=dtype)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    log_terms = Q_fn(a).to(dtype) / tau + torch.log(w * h / 3.0)
    return float(tau * torch.logsumexp(log_terms, dim=0))


def uniform_proposal(
    shape: tuple[int, ...], low: float, high: float, *, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    """Draws a ∼ U[low, high] of ``shape`` and their log-density −log(high − low)."""
    a = low + (high - low) * torch.rand(shape, generator=generator, dtype=dtype, device=generator.device)
    return a, torch.full_like(a, -math.log(high - low))


def tilted_proposal(
    shape: tuple[int, ...], low: float, high: float, *, slope: float = 0.9, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    """Draws from the linear density q(x) ∝ 1 + slope·x (x ∈ [−1, 1] mapped onto [low, high]) and their log-density.

    With |slope| < 1 the density is bounded away from zero (a mismatched but
    safe proposal: it over-samples one end of the interval). Sampled by
    inverting its quadratic CDF.
    """
    if not (-1 < slope < 1):
        raise ConfigError(f"slope must lie in (-1, 1) so that the density stays positive, got {slope!r}")
    u = torch.rand(shape, generator=generator, dtype=dtype, device=generator.device)
    if slope == 0:
        x = 2 * u - 1
    else:
        # F(x) = ((x + 1) + slope (x² − 1)/2)/2 = u, solved for x ∈ [−1, 1]
        x = (-1 + torch.sqrt(1 - 2 * slope * (1 - slope / 2 - 2 * u))) / slope
        x = x.clamp(-1.0, 1.0)
    width = high - low
    log_q = torch.log((1 + slope * x) / 2) - math.log(width / 2)
    return low + width * (x + 1) / 2, log_q


def boltzmann_rejection_sample(
    Q_fn: Callable[[Tensor], Tensor],
    tau: float,
    low: float,
    high: float,
    n: int,
    *,
    lipschitz: float,
    generator: torch.Generator,
    n_bins: int = 2_000,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """n exact draws from π(a) ∝ exp(Q(a)/τ) on [low, high] by rejection sampling.

    The envelope is piecewise constant: on each of ``n_bins`` equal bins it is
    exp(Q̄_j/τ) with Q̄_j = (the largest Q on a grid of 9 points in the bin)
    + ``lipschitz`` × (half the grid spacing), an upper bound of Q on the bin
    whenever |Q'| ≤ ``lipschitz``. A bin is drawn with probability ∝ its
    envelope mass, a point uniformly in it, and the point is kept with
    probability exp((Q(a) − Q̄_j)/τ). Exact as long as the bound holds, which
    is checked at every proposed point.
    """
    check_temperature(tau)
    require_int_at_least("n", n, 1)
    require_int_at_least("n_bins", n_bins, 1)
    require_positive("lipschitz", lipschitz)
    device = generator.device
    h = (high - low) / n_bins
    left = low + h * torch.arange(n_bins, dtype=dtype, device=device)
    grid = left.unsqueeze(-1) + h * torch.linspace(0.0, 1.0, 9, dtype=dtype, device=device)  # [bins, 9]
    Q_bar = Q_fn(grid).amax(dim=-1) + lipschitz * h / 16
    bin_weights = torch.softmax(Q_bar / tau, dim=0)
    out: list[Tensor] = []
    have = 0
    while have < n:
        m = max(1024, int(1.2 * (n - have)))
        j = torch.multinomial(bin_weights, m, replacement=True, generator=generator)
        a = left[j] + h * torch.rand(m, generator=generator, dtype=dtype, device=device)
        q = Q_fn(a)
        if bool(torch.any(q > Q_bar[j] + 1e-12)):
            raise ConfigError("the envelope is not an upper bound: lipschitz is too small for this Q")
        u = torch.rand(m, generator=generator, dtype=dtype, device=device)
        keep = a[torch.log(u) < (q - Q_bar[j]) / tau]
        out.append(keep)
        have += keep.numel()
    return torch.cat(out)[:n]
