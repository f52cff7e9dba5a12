"""Checks a reader can run on their own answer to chapter 4's coding exercise.

``check_proper_returns(fn)`` compares a reader's proper-bonus returns
``fn(rewards, entropies, dones, bootstrap, gamma, tau) -> R`` (Schulman et al.
2017, eq. 80, entropy-bonus form) with :func:`maxentrl.a2c.proper_returns` on
rollouts without an end of episode, with episodes ending inside the rollout
(nothing of the next episode may leak into a return), at τ = 0 (where they
are A2C's ordinary returns), and on a larger float32 batch. It prints one line
per case with a hint on failure and returns ``True`` when every case passes,
``False`` otherwise (``raise_on_failure=True`` raises :class:`AssertionError`
instead, for tests and autograders), like the other chapters' checkers.

An answer that runs the package's own code (``proper_returns``,
``n_step_returns`` or anything else of :mod:`maxentrl`) fails whatever its
numbers: :func:`maxentrl.checking.call_answer` watches the call with a profile hook and records
every frame whose code lives in the package, however it was reached (another
name, ``getattr``, a wrapper). The reference values are computed after the
answer returns, on copies of the inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.a2c import proper_returns
from maxentrl.checking import Delegated, call_answer, report

__all__ = ["check_proper_returns", "call_answer", "Delegated"]

def _cases() -> list[tuple[str, dict, str]]:
    g = torch.Generator().manual_seed(44)
    T, N = 5, 4
    base = {
        "rewards": torch.randn(T, N, generator=g, dtype=torch.float64),
        "entropies": torch.rand(T, N, generator=g, dtype=torch.float64) * 1.1,
        "dones": torch.zeros(T, N, dtype=torch.bool),
        "bootstrap": torch.randn(N, generator=g, dtype=torch.float64),
        "gamma": 0.9,
        "tau": 0.5,
    }
    ends = dict(base, dones=torch.tensor([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
                                         dtype=torch.bool))
    big = {
        "rewards": torch.randn(16, 64, generator=g),
        "entropies": torch.rand(16, 64, generator=g),
        "dones": torch.rand(16, 64, generator=g) < 0.1,
        "bootstrap": torch.randn(64, generator=g),
        "gamma": 0.99,
        "tau": 0.01,
    }
    return [
        ("a rollout without an end of episode", base,
         "R_t = r_t + tau H_t + gamma R_{t+1}, starting from R_T = bootstrap (V of the state after the rollout)."),
        ("episodes ending inside the rollout", ends,
         "where dones[t] is true, step t ended the episode: R_t = r_t + tau H_t, with no bootstrap and nothing "
         "from the next episode."),
        ("tau = 0 (A2C's ordinary n-step returns)", dict(base, tau=0.0),
         "with tau = 0 the entropies must drop out."),
        ("a float32 batch of 16 steps x 64 copies", big,
         "keep the inputs' dtype and shape [T, N]."),
    ]


def check_proper_returns(fn: Callable[..., Tensor], *, raise_on_failure: bool = False) -> bool:
    """Check ``fn(rewards[T, N], entropies[T, N], dones[T, N], bootstrap[N], gamma, tau) -> R[T, N]`` (eq. 80).

    Prints a line per case; returns whether all passed (or raises on the first
    failure with ``raise_on_failure=True``).
    """
    ok = True
    cases = _cases()
    for what, case, hint in cases:
        args = {k: v.clone() if isinstance(v, Tensor) else v for k, v in case.items()}
        try:
            got = call_answer(fn, args["rewards"], args["entropies"], args["dones"], args["bootstrap"],
                              args["gamma"], args["tau"])
            want = proper_returns(case["rewards"], case["entropies"], case["dones"], case["bootstrap"],
                                  gamma=case["gamma"], tau=case["tau"])
            if not isinstance(got, Tensor):
                raise AssertionError(f"{what}: return a tensor, got {type(got).__name__}")
            if tuple(got.shape) != tuple(want.shape):
                raise AssertionError(f"{what}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
            tol = 1e-10 if want.dtype == torch.float64 else 1e-4
            err = float((got.to(want.dtype) - want).abs().max())
            if not err <= tol * max(1.0, float(want.abs().max())):
                if err < 1e-5:
                    hint = ("the formula looks right but precision is lost: keep every factor in the inputs' dtype "
                            "(gamma times a boolean mask is float32; convert the mask with .to(rewards.dtype)).")
                raise AssertionError(f"{what}: largest difference from the reference is {err:.3g}. {hint}")
        except Delegated as failure:
            report("check_proper_returns", False, str(failure))
            if raise_on_failure:
                raise
            print(f"  FAIL  {failure}")
            return False
        except AssertionError as failure:
            if ok:  # the grading log keeps the first reason
                report("check_proper_returns", False, str(failure))
            if raise_on_failure:
                raise
            print(f"  FAIL  {failure}")
            ok = False
            continue
        except Exception as exc:  # the reader's code may fail in any way; report it, do not crash
            message = f"{what}: your function raised {type(exc).__name__}: {exc}"
            if ok:
                report("check_proper_returns", False, message)
            if raise_on_failure:
                raise AssertionError(message) from exc
            print(f"  FAIL  {message}")
            ok = False
            continue
        print(f"  ok    {what}")
    if ok:
        report("check_proper_returns", True)
    print("proper returns: all cases passed" if ok else "proper returns: some cases failed")
    return ok
