"""Checks a reader can run on their own answer to chapter 1's coding exercise.

Each checker calls the reader's function on a set of cases (ordinary values,
huge and tiny temperatures, large rewards, a batch) and compares it with the
package's reference. It prints one line per case, returns ``True`` when every
case passes and ``False`` otherwise (or raises ``AssertionError`` with
``raise_on_failure=True``, for use in tests and autograders).

An answer that calls the package's own implementation fails, however right its
numbers (see :mod:`maxentrl.checking`); so does a soft maximum that calls a
``logsumexp``, which the exercise asks the reader to write.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.boltzmann import boltzmann_policy, soft_maximum
from maxentrl.checking import Delegated, call_answer, report

__all__ = ["check_soft_maximum", "check_boltzmann_policy"]

Candidate = Callable[[Tensor, float], Tensor]


def _cases() -> list[tuple[str, Tensor, float]]:
    """(description, x, τ): x is ``(B, A)`` float64; the answer reduces over the last axis."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(4, 6, dtype=torch.float64, generator=g)
    return [
        ("ordinary values, tau = 1", x, 1.0),
        ("ordinary values, tau = 0.3", x, 0.3),
        ("large rewards (x ~ 1000), tau = 1", 1000.0 + 50 * x, 1.0),
        ("very negative rewards (x ~ -1000), tau = 1", -1000.0 + 50 * x, 1.0),
        ("tiny temperature, tau = 1e-3", x, 1e-3),
        ("huge temperature, tau = 1e4", x, 1e4),
        ("two equal maxima, tau = 0.01", torch.tensor([[1.0, 3.0, 3.0, -2.0]], dtype=torch.float64), 0.01),
    ]


def _run(name: str, candidate: Candidate, reference: Candidate, *, raise_on_failure: bool, rtol: float,
         forbidden_names: tuple[str, ...] = ()) -> bool:
    failures = []
    delegated = False
    for description, x, tau in _cases():
        try:
            got = call_answer(candidate, x.clone(), tau, forbidden_names=forbidden_names)
            got = torch.as_tensor(got, dtype=torch.float64)
        except Delegated as exc:
            failures, delegated = [str(exc)], True
            print(f"  FAIL  {exc}")
            break
        except Exception as exc:  # the reader's code may fail in any way; report it, do not crash
            failures.append(f"{description}: raised {type(exc).__name__}: {exc}")
            print(f"  FAIL  {failures[-1]}")
            continue
        expected = reference(x, tau)  # computed after the answer ran: nothing of it is there to peek at
        if got.shape != expected.shape:
            failures.append(f"{description}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
        elif not bool(torch.all(torch.isfinite(got))):
            failures.append(f"{description}: got non-finite values (overflow or 0/0?)")
        elif not torch.allclose(got, expected, rtol=rtol, atol=1e-10):
            err = float((got - expected).abs().max())
            failures.append(f"{description}: largest error {err:.3g}")
        else:
            print(f"  ok    {description}")
            continue
        print(f"  FAIL  {failures[-1]}")
    check = f"check_{name.lower().replace(' ', '_')}"
    if failures:
        message = f"{name}: rejected" if delegated else f"{name}: {len(failures)} of {len(_cases())} cases failed"
        print(message)
        report(check, False, failures[0])
        if raise_on_failure:
            raise AssertionError(message + "; " + "; ".join(failures))
        return False
    print(f"{name}: all {len(_cases())} cases passed")
    report(check, True)
    return True


def check_soft_maximum(candidate: Candidate, *, raise_on_failure: bool = False) -> bool:
    """Check ``candidate(x, tau)`` = τ log Σ_a exp(x_a/τ) over the last axis (shape ``x.shape[:-1]``).

    This is the plain log-sum-exp (no 1/|A| inside the logarithm), i.e.
    ``maxentrl.boltzmann.soft_maximum(x, tau, log_prior=torch.zeros_like(x))``,
    written without the package and without a ``logsumexp`` function.
    """

    def reference(x: Tensor, tau: float) -> Tensor:
        return soft_maximum(x, tau, log_prior=torch.zeros_like(x))

    return _run("soft maximum", candidate, reference, raise_on_failure=raise_on_failure, rtol=1e-9,
                forbidden_names=("logsumexp", "special_logsumexp"))


def check_boltzmann_policy(candidate: Candidate, *, raise_on_failure: bool = False) -> bool:
    """Check ``candidate(x, tau)`` = softmax(x/τ) over the last axis (uniform reference; shape of ``x``)."""

    def reference(x: Tensor, tau: float) -> Tensor:
        return boltzmann_policy(x, tau)

    return _run("Boltzmann policy", candidate, reference, raise_on_failure=raise_on_failure, rtol=1e-9)
