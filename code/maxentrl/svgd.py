"""Stein variational gradient descent and its amortized form (Haarnoja et al. 2017, eqs. 13-14, App. C.1, D.1).

SVGD (Liu and Wang 2016) moves a set of particles so that their empirical
distribution approaches a target density p(x) ∝ exp(log p(x)) known only up to
its normalizing constant. Each particle x'_k moves along

    φ(x'_k) = (1/M) Σ_i [ κ(x_i, x'_k) ∇ log p(x_i)  +  ∇_{x_i} κ(x_i, x'_k) ],

an average over particles x_1..x_M (where the score ∇ log p is evaluated)
of a kernel-weighted pull towards high density (first term) and a
repulsion between particles (second term). With the soft Q-function as the
energy, log p(a) = Q(s, a)/τ, τ times this is the direction Δf of
Haarnoja et al.'s eq. 13. Dropping the second term gives a kernel-smoothed
gradient ascent whose particles collapse onto modes; with one particle it is
the deterministic policy gradient of DDPG (the paper's section 4).

The kernel is the radial basis function κ(x, x') = exp(−‖x − x'‖²/h) with
the bandwidth of the paper's Appendix D.1, h = d / (2 log(M + 1)), where d is
the median of the pairwise *squared* distances (squared, so that h has the
units of ‖x − x'‖²; the authors' public code uses d / log M).

Amortized SVGD (Wang and Liu 2016) trains a network f^φ(ξ) whose outputs
are the particles: each output is pushed along φ by backpropagating it
through the network (eq. 14), which :func:`amortized_svgd_loss` does as a
surrogate loss.

Shapes: particles ``[..., M, d]`` (any leading batch axes: ensemble members,
states), scores likewise, bandwidths ``[...]``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_positive

__all__ = [
    "pairwise_sq_distances",
    "median_bandwidth",
    "rbf_kernel",
    "svgd_direction",
    "svgd_step",
    "amortized_svgd_loss",
]


def _check_particles(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() < 2:
        raise ConfigError(f"{name} must be a tensor of particles [..., M, d], got {getattr(x, 'shape', type(x))}")
    if x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ConfigError(f"{name} must hold at least one particle of dimension >= 1, got shape {tuple(x.shape)}")


def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """‖x_i − y_j‖² for every pair; ``x[..., M, d]``, ``y[..., K, d]`` → ``[..., M, K]``."""
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)  # [..., M, K, d]
    return diff.square().sum(-1)


def median_bandwidth(x: Tensor, y: Tensor | None = None, *, rule: str = "paper", min_bandwidth: float = 1e-3) -> Tensor:
    """The median heuristic of Haarnoja et al., App. D.1: h = med ‖x_i − y_j‖² / (2 log(M + 1)); ``[...]``.

    ``rule="code"`` gives the authors' public code's h = med ‖x_i − y_j‖² / log M
    instead (twice as wide for M = 16; Liu and Wang's choice for large M).

    ``x[..., M, d]`` are the M particles whose scores enter the SVGD average.
    Without ``y`` the median runs over the M(M − 1)/2 distinct pairs of ``x``;
    with ``y[..., K, d]`` over all M·K pairs between the two sets (the split
    of Appendix C.1). The median is the lower one for an even count. The
    result is floored at ``min_bandwidth`` so that collapsed particles do not
    divide by zero; it carries no gradient.
    """
    _check_particles("x", x)
    require_positive("min_bandwidth", min_bandwidth)
    if rule not in ("paper", "code"):
        raise ConfigError(f"rule must be 'paper' or 'code', got {rule!r}")
    M = x.shape[-2]
    if rule == "code" and M < 2:
        raise ConfigError("the public code's rule log M needs at least two particles")
    with torch.no_grad():
        if y is None:
            if M < 2:
                raise ConfigError("the median heuristic needs at least two particles")
            i, j = torch.triu_indices(M, M, offset=1, device=x.device)
            d2 = pairwise_sq_distances(x, x)[..., i, j]  # [..., M(M-1)/2]
        else:
            _check_particles("y", y)
            d2 = pairwise_sq_distances(x, y).flatten(-2)  # [..., M K]
        med = d2.median(dim=-1).values
        denominator = 2.0 * math.log(M + 1) if rule == "paper" else math.log(M)
        return (med / denominator).clamp_min(min_bandwidth)


def rbf_kernel(x: Tensor, y: Tensor, h: Tensor | float) -> tuple[Tensor, Tensor]:
    """κ(x_i, y_j) = exp(−‖x_i − y_j‖²/h) and its gradient in the first argument.

    ``x[..., M, d]``, ``y[..., K, d]``, ``h`` a float or ``[...]``. Returns
    ``K[..., M, K]`` and ``dK[..., M, K, d]`` with
    ``dK[..., i, j, :] = ∇_{x_i} κ(x_i, y_j) = −2 (x_i − y_j) κ(x_i, y_j) / h``.
    """
    h = torch.as_tensor(h, dtype=x.dtype, device=x.device)
    if bool((h <= 0).any()):
        raise ConfigError("the kernel bandwidth h must be positive")
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)  # [..., M, K, d]
    hh = h.unsqueeze(-1).unsqueeze(-1) if h.dim() else h
    K = torch.exp(-diff.square().sum(-1) / hh)
    dK = -2.0 * diff * (K / hh).unsqueeze(-1)
    return K, dK


def svgd_direction(
    x: Tensor,
    score: Tensor,
    *,
    y: Tensor | None = None,
    bandwidth: Tensor | float | None = None,
    repulsive: bool = True,
) -> Tensor:
    """The Stein variational direction φ at the particles ``y`` (Haarnoja et al. 2017, eq. 13, App. C.1).

    φ(y_k) = (1/M) Σ_i [κ(x_i, y_k) ∇ log p(x_i) + ∇_{x_i} κ(x_i, y_k)],

    with ``x[..., M, d]`` the particles at which ``score[..., M, d]`` =
    ∇ log p was evaluated and ``y[..., K, d]`` the particles to move
    (default: ``x`` itself, plain SVGD). For a Boltzmann policy
    p(a) ∝ exp(Q(s, a)/τ) the score is ∇_a Q/τ, and τ φ is eq. 13's Δf.
    ``bandwidth`` defaults to :func:`median_bandwidth` of ``x`` (against
    ``y`` when given). ``repulsive=False`` drops the kernel-gradient term.
    Returns ``[..., K, d]``.
    """
    _check_particles("x", x)
    if score.shape != x.shape:
        raise ConfigError(f"score must have the shape of x {tuple(x.shape)}, got {tuple(score.shape)}")
    target = x if y is None else y
    _check_particles("y", target)
    if target.shape[:-2] != x.shape[:-2] or target.shape[-1] != x.shape[-1]:
        raise ConfigError(f"y must share x's batch axes and dimension, got {tuple(target.shape)} and {tuple(x.shape)}")
    h = median_bandwidth(x, y) if bandwidth is None else bandwidth
    K, dK = rbf_kernel(x, target, h)  # [..., M, K], [..., M, K, d]
    M = x.shape[-2]
    drive = K.transpose(-1, -2) @ score  # [..., K, d]: Σ_i κ(x_i, y_k) score_i
    if repulsive:
        drive = drive + dK.sum(-3)
    return drive / M


def svgd_step(x: Tensor, score: Tensor, step_size: float, *, repulsive: bool = True,
              bandwidth: Tensor | float | None = None) -> Tensor:
    """One plain SVGD update x ← x + ε φ(x) of particles ``x[..., M, d]`` with their scores; returns the new particles."""
    require_positive("step_size", step_size)
    return x + step_size * svgd_direction(x, score, bandwidth=bandwidth, repulsive=repulsive)


def amortized_svgd_loss(particles: Tensor, direction: Tensor) -> Tensor:
    """Surrogate loss whose gradient is −E_ξ[Δf(ξ) ∂f^φ(ξ)/∂φ] (Haarnoja et al. 2017, eq. 14).

    ``particles[..., K, d]`` are network outputs f^φ(ξ_k) that carry a
    graph to the parameters φ; ``direction[..., K, d]`` is the SVGD direction
    at them (its graph is cut here). Minimizing the returned ``[...]``
    (mean over the K particles) moves every output along its direction.
    """
    if particles.shape != direction.shape:
        raise ConfigError(f"particles and direction must have one shape, got {tuple(particles.shape)} "
                          f"and {tuple(direction.shape)}")
    return -(direction.detach() * particles).sum(-1).mean(-1)
