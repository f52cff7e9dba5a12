"""Checks a reader can run on their own answers to chapter 2's exercises.

``check_soft_backup(fn)`` compares a reader's soft Bellman backup
``fn(Q, mdp, tau) -> TQ`` with :func:`maxentrl.soft_bellman.soft_bellman_backup`
on random MDPs: first at moderate temperatures (is the formula right?), then
with one temperature per MDP (does it broadcast a tensor τ?), then at a small
temperature and large values, where exp(Q/τ) overflows unless the
log-sum-exp is computed stably. It prints one line per case with a hint on
failure, and returns ``True`` when every case passes and ``False`` otherwise
(with ``raise_on_failure=True`` it raises :class:`AssertionError` instead of
returning ``False``, for tests and autograders), like chapter 1's checkers.

An answer that calls the package (its backup, ``soft_value``, or any other
module that computes them) fails, whatever its numbers; the methods of the
``mdp`` it is given (``mdp.gamma_tensor()``) are the reader's to use. See
:mod:`maxentrl.checking`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.checking import Delegated, call_answer, report
from maxentrl.mdp import TabularMDP, random_mdp
from maxentrl.soft_bellman import soft_bellman_backup

__all__ = ["check_soft_backup"]

Backup = Callable[[Tensor, TabularMDP, "float | Tensor"], Tensor]


def _compare(fn: Backup, Q: Tensor, mdp: TabularMDP, tau: float | Tensor, what: str, hint: str, rtol: float = 1e-10) -> None:
    try:
        got = call_answer(fn, Q.clone(), copy.deepcopy(mdp), tau, allowed=("maxentrl.mdp",))
    except Delegated:
        raise
    except Exception as exc:  # a reader's code may fail in any way; report it as a failed check
        raise AssertionError(f"{what}: your backup raised {type(exc).__name__}: {exc}") from exc
    want = soft_bellman_backup(Q, mdp, tau)  # after the answer ran: nothing of it is there to peek at
    if not isinstance(got, Tensor):
        raise AssertionError(f"{what}: your backup must return a tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(want.shape):
        raise AssertionError(f"{what}: expected shape [b, S, A] = {tuple(want.shape)}, got {tuple(got.shape)}")
    got = got.to(want.dtype)
    if not bool(torch.all(torch.isfinite(got))):
        raise AssertionError(f"{what}: your backup returned inf or NaN. {hint}")
    err = float((got - want).abs().max())
    scale = max(1.0, float(want.abs().max()))
    if err > rtol * scale:
        raise AssertionError(f"{what}: largest difference from the package is {err:.3e}. {hint}")


def check_soft_backup(fn: Backup, *, seed: int = 0, raise_on_failure: bool = False) -> bool:
    """Check ``fn(Q[b, S, A], mdp, tau) -> (TQ)[b, S, A]`` against the package's soft backup.

    Prints a line per case; returns whether all passed (or raises on the first
    failure with ``raise_on_failure=True``).
    """
    gen = torch.Generator().manual_seed(seed)
    mdp = random_mdp(8, 5, 3, generator=gen, gamma=(0.5, 0.95), dtype=torch.float64)
    Q = torch.randn((8, 5, 3), generator=gen, dtype=torch.float64)
    formula = "Check the formula: r + gamma * sum_s' P[b, s, a, s'] V[b, s'] with V = tau * log sum_a exp(Q / tau)."
    cases = [
        (Q, tau, f"moderate temperature tau={tau}", formula) for tau in (1.0, 0.3, 5.0)
    ] + [
        (Q, torch.logspace(-1, 1, 8, dtype=torch.float64), "one temperature per MDP (tau of shape [b])",
         "A tensor tau[b] must scale MDP b's Q; reshape it to broadcast against Q[b, S, A]."),
        (100.0 * Q, 1e-3, "small temperature tau=1e-3 with |Q| ~ 100",
         "exp(Q / tau) overflows here: compute the soft value with torch.logsumexp (or subtract the max first)."),
    ]
    first_failure = ""
    for Q_case, tau, what, hint in cases:
        try:
            _compare(fn, Q_case, mdp, tau, what, hint)
        except AssertionError as failure:
            first_failure = first_failure or str(failure)
            if raise_on_failure:
                report("check_soft_backup", False, first_failure)
                raise
            print(f"  FAIL  {failure}")
            if isinstance(failure, Delegated):
                break
            continue
        print(f"  ok    {what}")
    report("check_soft_backup", not first_failure, first_failure)
    if not first_failure:
        print("all checks passed: formula, per-MDP temperatures, and a stable log-sum-exp")
    return not first_failure
