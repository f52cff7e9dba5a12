"""Checks a reader can run on their own answer to chapter 3's coding exercise (the Stein direction).

``check_svgd_direction(fn)`` calls ``fn(x, score, h)`` with particles
``x[B, M, d]``, scores ``score[B, M, d]`` (∇ log p at the particles) and
bandwidths ``h[B]``, and compares the result with the package's
:func:`maxentrl.svgd.svgd_direction` (eq. 13, with the RBF kernel
exp(−‖x − x'‖²/h)): first in one dimension, then with a batch of
two-dimensional particle sets, then where only the repulsive term moves the
particles (a flat target), then with one bandwidth per set. It prints one
line per case with a hint on failure and returns whether every case passed
(``raise_on_failure=True`` raises :class:`AssertionError` instead, for tests
and autograders).

An answer must compute the direction itself: while it runs, any call into
:mod:`maxentrl.svgd` is detected and fails the check.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.checking import Delegated, call_answer, report
from maxentrl.svgd import svgd_direction

__all__ = ["check_svgd_direction"]

Direction = Callable[[Tensor, Tensor, Tensor], Tensor]


def _cases(seed: int) -> list[tuple[str, Tensor, Tensor, Tensor, str]]:
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(1, 7, 1, dtype=torch.float64, generator=g) * 2
    x2 = torch.randn(3, 9, 2, dtype=torch.float64, generator=g)
    s2 = -x2 + 0.5 * torch.randn(3, 9, 2, dtype=torch.float64, generator=g)
    x3 = torch.randn(2, 6, 2, dtype=torch.float64, generator=g) * 0.3
    kernel = "Use kappa(x_i, x_k) = exp(-|x_i - x_k|^2 / h) with h of shape [B] broadcast over both particle axes."
    return [
        ("one dimension, one set of 7 particles", x1, -(x1 - 1.0), torch.tensor([0.8], dtype=torch.float64),
         "phi(x_k) = (1/M) sum_i [kappa(x_i, x_k) score_i + grad_{x_i} kappa(x_i, x_k)]. " + kernel),
        ("a batch of three 2-D sets", x2, s2, torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64),
         "Sum over the first particle index i (where the score was evaluated), one result per particle k."),
        ("a flat target (score 0): only the repulsive term acts", x3, torch.zeros_like(x3),
         torch.tensor([0.2, 0.2], dtype=torch.float64),
         "grad_{x_i} kappa(x_i, x_k) = -2 (x_i - x_k) / h * kappa(x_i, x_k): it pushes x_k away from x_i."),
        ("one bandwidth per set", x2, s2, torch.tensor([0.1, 1.0, 4.0], dtype=torch.float64), kernel),
    ]


def check_svgd_direction(fn: Direction, *, seed: int = 0, raise_on_failure: bool = False) -> bool:
    """Check ``fn(x[B, M, d], score[B, M, d], h[B]) -> phi[B, M, d]`` against eq. 13 (plain SVGD, y = x)."""
    ok = True
    for what, x, score, h, hint in _cases(seed):
        want = svgd_direction(x, score, bandwidth=h)
        try:
            try:
                got = call_answer(fn, x.clone(), score.clone(), h.clone())
            except Delegated as exc:
                raise AssertionError(f"{what}: {exc}") from None
            except Exception as exc:  # a reader's code may fail in any way; report it as a failed check
                raise AssertionError(f"{what}: your function raised {type(exc).__name__}: {exc}") from exc
            if not isinstance(got, Tensor):
                raise AssertionError(f"{what}: return a tensor, got {type(got).__name__}")
            if tuple(got.shape) != tuple(want.shape):
                raise AssertionError(f"{what}: expected shape [B, M, d] = {tuple(want.shape)}, got {tuple(got.shape)}")
            err = float((got.to(want.dtype) - want).abs().max())
            if not err <= 1e-9 * max(1.0, float(want.abs().max())):
                raise AssertionError(f"{what}: largest difference from eq. 13 is {err:.3e}. {hint}")
        except AssertionError as failure:
            if ok:  # the grading log keeps the first reason
                report("check_svgd_direction", False, str(failure))
            if raise_on_failure:
                raise
            print(f"  FAIL  {failure}")
            ok = False
            continue
        print(f"  ok    {what}")
    if ok:
        report("check_svgd_direction", True)
        print("all checks passed: the driving term, the repulsive term and per-set bandwidths")
    return ok
