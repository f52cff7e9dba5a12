"""The Fisher information matrix and the natural policy gradient.

Notation (Schulman, Chen and Abbeel 2017, §5; Kakade 2002). A policy π_θ over
a finite action set has the score ψ(s, a) = ∇_θ log π_θ(a|s) (a vector of
length p). Data are state–action pairs with non-negative weights
``W[b, s, a]``: either exact expectations, W(s, a) = d(s) π(a|s) for a state
distribution d, or a sample of size N, W(s, a) = (number of times (s, a) was
drawn)/N. With an advantage estimate ``adv[b, s, a]`` (Schulman et al.'s Δ, or
its entropy-regularized version of their eq. 70), the three objects are

    F = Σ_{s,a} W(s, a) ψ(s, a) ψ(s, a)ᵀ                 Fisher matrix     [b, p, p]
    g = Σ_{s,a} W(s, a) ψ(s, a) adv(s, a)                 policy gradient   [b, p]
    w = argmin_w ½ Σ_{s,a} W(s, a) (ψ(s, a)·w − ε adv(s, a))²   (eq. 66)  [b, p]

and the normal equations of the last line say F w = ε g: the least-squares
solution is the natural gradient ε F⁻¹ g (ε F⁺ g, the minimum-norm solution,
when F is singular, as it is for a table of logits).

Three ways to the same w, checked against each other in the chapter:
:func:`natural_gradient_lstsq` (eq. 66, a least-squares solve on the rows
√W ψ), :func:`natural_gradient_explicit` (forms F and solves, or applies its
pseudo-inverse) and :func:`natural_gradient_cg` (conjugate gradient with
Fisher-vector products from autograd, never forming F or the rows: the way
TRPO-like methods do it for networks). Everything is batched over ``b``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_finite, require_int_at_least, require_positive, require_shape

__all__ = [
    "fisher_matrix",
    "policy_gradient",
    "natural_gradient_lstsq",
    "min_norm_lstsq",
    "natural_gradient_explicit",
    "tabular_natural_gradient",
    "fisher_vector_product",
    "score_weighted_sum",
    "conjugate_gradient",
    "natural_gradient_cg",
]

LogitsFn = Callable[[Tensor], Tensor]
"""θ[b, p] ↦ logits z[b, S, A]; a pure function (batch elements independent)."""


def _check_rows(psi: Tensor, weights: Tensor, adv: Tensor | None = None) -> None:
    if psi.dim() != 4:
        raise ConfigError(f"psi must have shape [b, S, A, p], got {tuple(psi.shape)}")
    require_shape("weights", weights, tuple(psi.shape[:3]), meaning="[b, S, A]")
    require_finite("psi", psi)
    require_finite("weights", weights)
    if bool((weights < 0).any()):
        raise ConfigError("weights must be non-negative")
    if adv is not None:
        require_shape("adv", adv, tuple(psi.shape[:3]), meaning="[b, S, A]")
        require_finite("adv", adv)


def fisher_matrix(psi: Tensor, weights: Tensor) -> Tensor:
    """F = Σ_{s,a} W(s, a) ψ(s, a) ψ(s, a)ᵀ, the (average) Fisher information matrix; ``[b, p, p]``.

    With W = d π this is Schulman et al.'s F = E_{s,a∼π}[ψψᵀ] (§5), Kakade's
    (2002) metric; with sample counts it is the estimate Ψᵀ Ψ / N of eq. 66.
    ``psi[b, S, A, p]`` from :func:`maxentrl.softmax_policy.score`.
    """
    _check_rows(psi, weights)
    return torch.einsum("bsa,bsap,bsaq->bpq", weights.to(psi.dtype), psi, psi)


def policy_gradient(psi: Tensor, adv: Tensor, weights: Tensor) -> Tensor:
    """g = Σ_{s,a} W(s, a) ψ(s, a) adv(s, a) (Schulman et al. 2017, §5 and eq. 70); ``[b, p]``.

    With the entropy-regularized advantage adv = Q^π − τ log π (any per-state
    baseline may be subtracted: the π-average of ψ is zero) and W = d^π π,
    this is (1 − γ) times the gradient of the entropy-augmented return.
    """
    _check_rows(psi, weights, adv)
    return torch.einsum("bsa,bsap,bsa->bp", weights.to(psi.dtype), psi, adv.to(psi.dtype))


def min_norm_lstsq(M: Tensor, y: Tensor) -> Tensor:
    """The minimum-norm least-squares solution of M x ≈ y for ``M[b, m, p]``, ``y[b, m]``.

    LAPACK's divide-and-conquer SVD solver (``gelsd``) on the CPU; on other
    devices, where torch offers only the full-rank QR driver, the SVD-based
    pseudo-inverse. Singular values below eps·max(m, p)·σ_max count as zero.
    """
    if M.device.type == "cpu":
        return torch.linalg.lstsq(M, y.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
    return (torch.linalg.pinv(M) @ y.unsqueeze(-1)).squeeze(-1)


def natural_gradient_lstsq(psi: Tensor, adv: Tensor, weights: Tensor, *, step: float | Tensor = 1.0) -> Tensor:
    """w = argmin_w ½ Σ W (ψ·w − ε adv)² (Schulman et al. 2017, eq. 66): the natural gradient ε F⁺ g.

    Solved as an ordinary least-squares problem on the rows √W(s, a) ψ(s, a)
    (minimum norm when F is singular), without forming F: this is how eq. 66
    turns the natural gradient into a regression. ``psi[b, S, A, p]``,
    ``adv[b, S, A]``, ``weights[b, S, A]``, ``step`` ε a number or ``[b]``;
    returns ``w[b, p]``. Its effect on the log-probabilities, ψ·w, is
    eq. 67's first-order change.
    """
    _check_rows(psi, weights, adv)
    b, S, A, p = psi.shape
    root = weights.to(psi.dtype).sqrt()
    M = (root.unsqueeze(-1) * psi).reshape(b, S * A, p)
    y = (root * adv.to(psi.dtype)).reshape(b, S * A)
    w = min_norm_lstsq(M, y)
    return _scale(step, w)


def _scale(step: float | Tensor, w: Tensor) -> Tensor:
    if isinstance(step, Tensor):
        require_finite("step", step)
        return step.to(w).reshape(-1, *([1] * (w.dim() - 1))) * w
    if not isinstance(step, (int, float)) or isinstance(step, bool):
        raise ConfigError(f"step must be a number or a tensor [b], got {step!r}")
    return float(step) * w


def natural_gradient_explicit(F: Tensor, g: Tensor, *, pseudo_inverse: bool = False, rcond: float = 1e-10) -> Tensor:
    """F⁻¹ g by an explicit solve with the Fisher matrix ``F[b, p, p]`` (or F⁺ g with ``pseudo_inverse``); ``[b, p]``.

    The pseudo-inverse comes from the eigendecomposition F = U Λ Uᵀ, with
    eigenvalues below ``rcond``·λ_max treated as zero; use it when F is
    singular by construction (a table of logits: one null direction per
    state). Otherwise an LU solve.
    """
    if F.dim() != 3 or F.shape[1] != F.shape[2]:
        raise ConfigError(f"F must have shape [b, p, p], got {tuple(F.shape)}")
    require_shape("g", g, tuple(F.shape[:2]), meaning="[b, p]")
    require_finite("F", F)
    require_finite("g", g)
    if not pseudo_inverse:
        return torch.linalg.solve(F, g)
    require_positive("rcond", rcond)
    lam, U = torch.linalg.eigh(0.5 * (F + F.transpose(1, 2)))
    keep = lam > rcond * lam[:, -1:].clamp_min(0)
    inv = torch.where(keep, 1.0 / torch.where(keep, lam, torch.ones_like(lam)), torch.zeros_like(lam))
    return torch.einsum("bpk,bk,bqk,bq->bp", U, inv, U, g)


def tabular_natural_gradient(adv: Tensor, d: Tensor) -> Tensor:
    """The minimum-norm natural gradient of a table of logits, in closed form: adv − mean_a adv; ``[b, S, A]``.

    For W = d π with d(s) > 0, F is block-diagonal with blocks
    d(s)(diag π_s − π_s π_sᵀ) and g has blocks d(s) π_s ⊙ (adv_s − π_s·adv_s),
    so F x = g is solved by adv_s + c·1 for any c; the minimum-norm choice
    centres it with the plain (not π-weighted) mean. States with d(s) = 0
    get 0. This is why the tabular NPG update of Cen et al. (2021, eq. 17)
    needs no matrix at all.
    """
    if adv.dim() != 3:
        raise ConfigError(f"adv must have shape [b, S, A], got {tuple(adv.shape)}")
    require_shape("d", d, tuple(adv.shape[:2]), meaning="[b, S]")
    require_finite("adv", adv)
    x = adv - adv.mean(dim=-1, keepdim=True)
    return torch.where((d > 0).unsqueeze(-1), x, torch.zeros_like(x))


def score_weighted_sum(logits_fn: LogitsFn, theta: Tensor, pi: Tensor, c: Tensor) -> Tensor:
    """Σ_{s,a} c(s, a) ψ(s, a) = Jᵀ y with y(s, a) = c(s, a) − π(a|s) Σ_{a'} c(s, a'); ``[b, p]``.

    One vector–Jacobian product of the logits, without forming J or ψ.
    With c = W·adv it is :func:`policy_gradient`.
    """
    y = c - pi * c.sum(dim=-1, keepdim=True)
    _, vjp = torch.func.vjp(logits_fn, theta)
    return vjp(y.to(theta.dtype))[0]


def fisher_vector_product(logits_fn: LogitsFn, theta: Tensor, pi: Tensor, weights: Tensor, v: Tensor) -> Tensor:
    """F v for the Fisher matrix of a softmax policy with logits ``logits_fn(theta)``; ``[b, p]``.

    With u = J v (a Jacobian–vector product of the logits) and
    c(s, a) = W(s, a)(u(s, a) − π_s·u_s), F v = Σ_{s,a} c(s, a) ψ(s, a) is one
    vector–Jacobian product (:func:`score_weighted_sum`). Costs two passes
    through the network, never p² memory.
    """
    with warnings.catch_warnings():
        # torch 2.13's forward-mode decompositions still go through torch.jit.script on first use and say so
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        _, u = torch.func.jvp(logits_fn, (theta,), (v,))
    c = weights.to(u.dtype) * (u - (pi * u).sum(dim=-1, keepdim=True))
    return score_weighted_sum(logits_fn, theta, pi, c)


def conjugate_gradient(
    matvec: Callable[[Tensor], Tensor],
    rhs: Tensor,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> tuple[Tensor, dict[str, Any]]:
    """Solve A x = rhs for a batch of symmetric positive (semi-)definite A given only x ↦ A x; ``rhs[b, p]``.

    Hestenes–Stiefel conjugate gradients from x = 0, one system per batch row.
    A row stops (keeps its x) once ‖r‖ ≤ tol·‖rhs‖, or when its curvature
    pᵀAp is no longer positive. For a singular but consistent system (rhs in
    the range of A, as g is in the range of F) the iterates stay in that range
    and approach the minimum-norm solution.

    Returns ``(x, info)`` with ``info["iterations"]`` and the relative
    residuals ``info["residual"][b]``.
    """
    require_positive("tol", tol)
    require_int_at_least("max_iter", max_iter, 1)
    if rhs.dim() != 2:
        raise ConfigError(f"rhs must have shape [b, p], got {tuple(rhs.shape)}")
    require_finite("rhs", rhs)
    x = torch.zeros_like(rhs)
    r = rhs.clone()
    p = r.clone()
    rr = (r * r).sum(-1)
    scale = rhs.norm(dim=-1).clamp_min(torch.finfo(rhs.dtype).tiny)
    active = r.norm(dim=-1) > tol * scale
    iterations = 0
    for iterations in range(1, max_iter + 1):
        if not bool(active.any()):
            iterations -= 1
            break
        Ap = matvec(p)
        pAp = (p * Ap).sum(-1)
        active = active & (pAp > 0)
        alpha = torch.where(active, rr / torch.where(active, pAp, torch.ones_like(pAp)), torch.zeros_like(rr))
        x = x + alpha.unsqueeze(-1) * p
        r = r - alpha.unsqueeze(-1) * Ap
        rr_new = (r * r).sum(-1)
        beta = torch.where(active, rr_new / torch.where(rr > 0, rr, torch.ones_like(rr)), torch.zeros_like(rr))
        p = torch.where(active.unsqueeze(-1), r + beta.unsqueeze(-1) * p, p)
        rr = torch.where(active, rr_new, rr)
        active = active & (rr.sqrt() > tol * scale)
    return x, {"iterations": iterations, "residual": rr.sqrt() / scale}


def natural_gradient_cg(
    logits_fn: LogitsFn,
    theta: Tensor,
    adv: Tensor,
    weights: Tensor,
    *,
    step: float | Tensor = 1.0,
    ridge: float = 0.0,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> tuple[Tensor, dict[str, Any]]:
    """ε (F + ridge·I)⁻¹ g by conjugate gradients with Fisher-vector products; ``(w[b, p], info)``.

    For a softmax policy network with logits ``logits_fn(theta)``: g is one
    vector–Jacobian product, each CG iteration one :func:`fisher_vector_product`.
    ``ridge`` > 0 adds a multiple of the identity (TRPO's "damping" of the
    Fisher matrix, a different thing from the damping of soft Q-learning in
    :mod:`maxentrl.damped_soft_q`); with ``ridge`` = 0 the result approaches
    :func:`natural_gradient_lstsq`. ``info`` is that of :func:`conjugate_gradient`.
    """
    if ridge < 0:
        raise ConfigError(f"ridge must be >= 0, got {ridge!r}")
    z = logits_fn(theta)
    if tuple(z.shape) != tuple(weights.shape):
        raise ConfigError(f"weights must have the logits' shape {tuple(z.shape)}, got {tuple(weights.shape)}")
    require_shape("adv", adv, tuple(z.shape), meaning="[b, S, A]")
    require_finite("adv", adv)
    pi = torch.softmax(z.detach(), dim=-1)
    W = weights.to(theta.dtype)
    g = score_weighted_sum(logits_fn, theta, pi, W * adv.to(theta.dtype))

    def matvec(v: Tensor) -> Tensor:
        return fisher_vector_product(logits_fn, theta, pi, W, v) + ridge * v

    w, info = conjugate_gradient(matvec, g, tol=tol, max_iter=max_iter)
    return _scale(step, w), info
