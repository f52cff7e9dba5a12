"""Functionals of a function on an interval, discretized on a grid.

A function q on [a, b] is stored as its values ``q[..., i] = q(x_i)`` on the
midpoints x_i of ``n`` equal cells, and an integral ∫ g(x) dx becomes the
quadrature Σ_i w_i g(x_i) with weights ``w[i] = (b − a)/n``. Leading axes are
a batch: many functions (and, where a temperature enters, one τ per function)
are handled in one call.

The functional derivative δJ/δq of J[q] = ∫ F(q(x), x) dx is defined by the
first variation (the blog derivation the book follows; seed 001):

    J[q + εη] − J[q] = ε ∫ (δJ/δq)(x) η(x) dx + o(ε)            for every test function η,

and for this J it is the pointwise partial derivative ∂F/∂q (q(x), x). On the
grid, J_h[q] = Σ_i w_i F(q_i, x_i), its gradient is ∂J_h/∂q_i = w_i ∂F/∂q, so
the functional derivative is that gradient divided by the weight.

The entropy-regularized objective of the book's chapter 1 is

    J[q] = ∫ q f dx − τ ∫ q log q dx,          δJ/δq = f − τ (log q + 1),

and among probability densities (q ≥ 0, ∫ q = 1) it is maximized by the
Boltzmann density q* = exp(f/τ)/Z, Z = ∫ exp(f/τ) dx, with maximum τ log Z.
(The temperature is written λ in seed 001; the book writes τ throughout.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from maxentrl.boltzmann import check_temperature
from maxentrl.errors import ConfigError, require_int_at_least, require_positive

__all__ = [
    "midpoint_grid",
    "integrate",
    "functional_value",
    "functional_derivative",
    "entropy_regularized_objective",
    "entropy_regularized_derivative",
    "boltzmann_density",
    "log_partition",
    "soft_maximum_integral",
    "kl_density",
    "directional_derivative_exact",
    "directional_derivative_fd",
    "mirror_ascent",
    "softmax_gradient_ascent",
    "random_fourier_functions",
]

Integrand = Callable[[Tensor, Tensor], Tensor]


def midpoint_grid(
    a: float, b: float, n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """The midpoints ``x`` (shape ``(n,)``) of ``n`` equal cells of [a, b] and their weights ``w`` (``(n,)``).

    ``(g(x) * w).sum()`` is the midpoint rule for ∫_a^b g(x) dx, exact for
    linear g and accurate to O(n⁻²) for smooth g.
    """
    require_int_at_least("n", n, 1)
    if not (math.isfinite(a) and math.isfinite(b) and b > a):
        raise ConfigError(f"the interval must satisfy a < b (finite), got [{a}, {b}]")
    h = (b - a) / n
    x = a + h * (torch.arange(n, dtype=dtype, device=device) + 0.5)
    w = torch.full((n,), h, dtype=dtype, device=device)
    return x, w


def integrate(g: Tensor, w: Tensor) -> Tensor:
    """∫ g dx ≈ Σ_i w_i g_i over the last axis: ``g`` is ``(..., n)``, ``w`` is ``(n,)``; returns ``(...)``."""
    return (g * w).sum(dim=-1)


def functional_value(F: Integrand, q: Tensor, x: Tensor, w: Tensor) -> Tensor:
    """J[q] = ∫ F(q(x), x) dx by quadrature.

    ``F(q, x)`` acts elementwise (``q`` is ``(..., n)``, ``x`` is ``(n,)``);
    the result has shape ``(...)``.
    """
    return integrate(F(q, x), w)


def functional_derivative(F: Integrand, q: Tensor, x: Tensor) -> Tensor:
    """δJ/δq(x) = ∂F/∂q (q(x), x) for J[q] = ∫ F(q(x), x) dx, by autograd; shape of ``q``.

    Because F acts pointwise, the gradient of Σ_i F(q_i, x_i) with respect to
    q_i is ∂F/∂q at grid point i alone, which is the functional derivative
    (the quadrature weight cancels; see the module docstring).
    """
    with torch.enable_grad():
        q_ = q.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F(q_, x).sum(), q_)
    return grad


def entropy_regularized_objective(q: Tensor, f: Tensor, tau: float | Tensor, w: Tensor) -> Tensor:
    """J[q] = ∫ q f dx − τ ∫ q log q dx (seed 001; the continuous form of Schulman et al. 2017, eq. 1).

    Shapes: ``q`` and ``f`` are ``(..., n)`` (``f`` broadcasts), ``tau`` a float
    or a tensor of shape ``(...)``, ``w`` is ``(n,)``; the result is ``(...)``.
    ``q`` must be non-negative (0 log 0 = 0).
    """
    check_temperature(tau)
    t = _tau(tau, q)
    return integrate(q * f - t * torch.special.xlogy(q, q), w)


def entropy_regularized_derivative(q: Tensor, f: Tensor, tau: float | Tensor) -> Tensor:
    """δJ/δq = f − τ (log q + 1) for the objective of :func:`entropy_regularized_objective`; shape of ``q``."""
    check_temperature(tau)
    t = _tau(tau, q)
    return f - t * (torch.log(q) + 1.0)


def log_partition(f: Tensor, tau: float | Tensor, w: Tensor) -> Tensor:
    """log Z = log ∫ exp(f/τ) dx, computed as logsumexp(f/τ + log w) so that it never overflows; ``(...)``."""
    check_temperature(tau)
    t = _tau(tau, f)
    return torch.logsumexp(f / t + torch.log(w), dim=-1)


def soft_maximum_integral(f: Tensor, tau: float | Tensor, w: Tensor) -> Tensor:
    """max_q J[q] = τ log ∫ exp(f/τ) dx over densities q: the continuous soft maximum of ``f``; ``(...)``.

    It is the continuous counterpart of Schulman et al. (2017), eq. 6 with the
    Lebesgue measure as reference (``maxentrl.boltzmann.soft_maximum`` is the
    discrete one with a probability reference).
    """
    log_Z = log_partition(f, tau, w)
    t = tau.to(dtype=f.dtype, device=f.device) if isinstance(tau, Tensor) else tau
    return t * log_Z


def boltzmann_density(f: Tensor, tau: float | Tensor, w: Tensor) -> Tensor:
    """q*(x) = exp(f(x)/τ) / ∫ exp(f/τ) dx, the maximizer of J among densities; shape of ``f``.

    Computed in log space: log q* = f/τ − log Z.
    """
    t = _tau(tau, f)
    return torch.exp(f / t - log_partition(f, tau, w).unsqueeze(-1))


def kl_density(p: Tensor, q: Tensor, w: Tensor) -> Tensor:
    """D_KL[p ‖ q] = ∫ p log(p/q) dx for densities on the grid (0 log 0 = 0); ``(...)``."""
    return integrate(torch.special.xlogy(p, p) - torch.special.xlogy(p, q), w)


def directional_derivative_exact(dJ_dq: Tensor, eta: Tensor, w: Tensor) -> Tensor:
    """The first variation ∫ (δJ/δq)(x) η(x) dx; ``dJ_dq`` and ``eta`` are ``(..., n)``; returns ``(...)``."""
    return integrate(dJ_dq * eta, w)


def directional_derivative_fd(
    J: Callable[[Tensor], Tensor],
    q: Tensor,
    eta: Tensor,
    eps: float | Tensor,
    *,
    scheme: Literal["forward", "central"] = "forward",
) -> Tensor:
    """Finite-difference estimate of the directional derivative of ``J`` at ``q`` along ``eta``.

    forward: (J[q + εη] − J[q]) / ε,   error O(ε);
    central: (J[q + εη] − J[q − εη]) / (2ε),   error O(ε²).

    ``J`` maps ``(..., n)`` to ``(...)``. ``q`` and ``eta`` are ``(..., n)``;
    ``eps`` is a float or a tensor that broadcasts against ``(...)`` (for
    example ``(E, 1)`` against a batch ``(B,)`` gives ``(E, B)``).
    """
    e = torch.as_tensor(eps, dtype=q.dtype, device=q.device)
    if bool(torch.any(e <= 0)):
        raise ConfigError("the finite-difference step eps must be positive")
    step = e.unsqueeze(-1) * eta
    if scheme == "forward":
        return (J(q + step) - J(q)) / e
    if scheme == "central":
        return (J(q + step) - J(q - step)) / (2 * e)
    raise ConfigError(f"scheme must be 'forward' or 'central', got {scheme!r}")


def mirror_ascent(
    f: Tensor,
    tau: float | Tensor,
    w: Tensor,
    *,
    steps: int,
    step_size: float | Tensor,
    log_q0: Tensor | None = None,
    record: Callable[[int, Tensor], None] | None = None,
) -> Tensor:
    """Maximize J[q] = ∫ q f − τ ∫ q log q over densities by exponentiated (mirror) gradient ascent.

    One step moves log q along the functional derivative and renormalizes:

        log q_{k+1} = log q_k + α δJ/δq[q_k] − log ∫ q_k exp(α δJ/δq[q_k]) dx,

    the renormalization being the Lagrange multiplier of ∫ q = 1 (it keeps q a
    density, and q > 0 automatically). Since δJ/δq = f − τ(log q + 1), the
    step is log q_{k+1} = (1 − ατ) log q_k + α f + const, so for 0 < ατ < 2
    log q_k − log q* shrinks by the factor |1 − ατ| per step (up to a constant)
    and q_k → q* = exp(f/τ)/Z geometrically.

    Shapes: ``f`` is ``(B, n)`` (any leading batch), ``tau`` and ``step_size``
    floats or tensors of shape ``(B,)``, ``w`` is ``(n,)``. ``log_q0`` defaults
    to the uniform density on the grid. ``record(k, log_q)`` is called after
    every step (k = 1..steps), e.g. to log the KL to q*. Returns log q_steps.
    """
    check_temperature(tau)
    require_int_at_least("steps", steps, 0)
    alpha = _tau(step_size, f)
    t = _tau(tau, f)
    log_w = torch.log(w)
    if log_q0 is None:
        log_q = (-torch.log(w.sum())).expand_as(f).clone()
    else:
        log_q = log_q0.clone()
    for k in range(1, steps + 1):
        grad = f - t * (log_q + 1.0)  # δJ/δq at q_k
        z = log_q + alpha * grad
        log_q = z - torch.logsumexp(z + log_w, dim=-1, keepdim=True)
        if record is not None:
            record(k, log_q)
    return log_q


def softmax_gradient_ascent(
    f: Tensor,
    tau: float | Tensor,
    w: Tensor,
    *,
    steps: int,
    step_size: float | Tensor,
    log_q0: Tensor | None = None,
    record: Callable[[int, Tensor], None] | None = None,
) -> Tensor:
    """Maximize J[q] = ∫ q f − τ ∫ q log q by plain gradient ascent on the logits of q = e^u / ∫ e^u.

    The chain rule through the normalization gives the gradient in u (per unit
    of x, i.e. divided by the quadrature weight)

        ∂J/∂u (x) = q(x) (δJ/δq(x) − ∫ q δJ/δq dx),

    and the step is u ← u + α ∂J/∂u. Unlike :func:`mirror_ascent`, which moves
    log q by α δJ/δq, this step is scaled by q(x) itself: near the maximizer
    log q − log q* contracts by about 1 − ατ q*(x) at x, so where q* is small
    the iteration crawls, and stability needs α ≲ 2/(τ max q*). The contrast
    between the two is the contrast between a Euclidean step on the logits and
    the mirror step that matches the entropy's geometry.

    Shapes as in :func:`mirror_ascent`; ``log_q0`` defaults to the uniform
    density. ``record(k, log_q)`` is called after every step. Returns log q.
    """
    check_temperature(tau)
    require_int_at_least("steps", steps, 0)
    alpha = _tau(step_size, f)
    t = _tau(tau, f)
    log_w = torch.log(w)
    u = (-torch.log(w.sum())).expand_as(f).clone() if log_q0 is None else log_q0.clone()
    log_q = u - torch.logsumexp(u + log_w, dim=-1, keepdim=True)
    for k in range(1, steps + 1):
        q = log_q.exp()
        dJ = f - t * (log_q + 1.0)  # δJ/δq at q_k
        u = u + alpha * q * (dJ - integrate(q * dJ, w).unsqueeze(-1))
        log_q = u - torch.logsumexp(u + log_w, dim=-1, keepdim=True)
        if record is not None:
            record(k, log_q)
    return log_q


def random_fourier_functions(
    batch: int,
    x: Tensor,
    *,
    modes: int = 6,
    amplitude: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``batch`` smooth random functions on the grid ``x`` (``(n,)``), shape ``(batch, n)``.

    g(x) = c_0 + amplitude · Σ_{k=1..modes} (a_k cos(2πk u) + b_k sin(2πk u)) / k,
    u = (x − x_0)/(x_{n−1} − x_0), with standard normal c_0, a_k, b_k. They
    serve as test functions η and as reward landscapes f.
    """
    require_int_at_least("batch", batch, 1)
    require_int_at_least("modes", modes, 1)
    require_positive("amplitude", amplitude)
    span = (x[-1] - x[0]).clamp_min(torch.finfo(x.dtype).tiny)
    u = (x - x[0]) / span
    k = torch.arange(1, modes + 1, dtype=x.dtype, device=x.device)
    coef = torch.randn(batch, 2 * modes + 1, dtype=x.dtype, device=x.device, generator=generator)
    phase = 2 * math.pi * k.unsqueeze(-1) * u  # (modes, n)
    basis = torch.cat([torch.cos(phase), torch.sin(phase)], dim=0) / torch.cat([k, k]).unsqueeze(-1)
    return coef[:, :1] + amplitude * coef[:, 1:] @ basis


def _tau(tau: float | Tensor, like: Tensor) -> float | Tensor:
    """A scalar as is, or a per-batch tensor ``(...)`` reshaped to ``(..., 1)`` to broadcast over the grid."""
    if isinstance(tau, Tensor):
        return tau.to(dtype=like.dtype, device=like.device).unsqueeze(-1)
    return tau
