"""A check a reader runs on their own answer to chapter 5's coding exercise: the natural gradient by least squares.

``check_natural_gradient(fn)`` calls the reader's ``fn(psi, adv, weights)``
(scores ``psi[b, S, A, p]``, advantages ``adv[b, S, A]``, weights
``weights[b, S, A]``; it returns ``w[b, p]``, a solution of Schulman et al.'s
eq. 66, min_w ½ Σ W (ψ·w − adv)²) on four kinds of problems, and compares it
with the natural gradient F⁺g computed here from an eigendecomposition of the
Fisher matrix (a route independent of any least-squares solver):

* a small network with exact expectations (F invertible): w itself must match;
* a table of logits (F singular: one null direction per state);
* sampled rows, where most state–action pairs have weight zero;
* advantages a thousand times larger (the solve must scale).

Where F is singular, eq. 66 has many solutions; they all change the fitted
log-probabilities √W·(ψ·w) alike, and that is what is compared (a minimum-norm
w is not required). The check rejects an answer that runs the package's own
solvers (any code of :mod:`maxentrl` other than this module while the answer
runs), however right its numbers. It prints one line per case and returns
``True`` when all pass (``raise_on_failure=True`` raises :class:`AssertionError`
instead of returning ``False``, for tests and autograders).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.checking import Delegated, call_answer, report
from maxentrl.mdp import random_mdp
from maxentrl.natural_gradient import (
    fisher_matrix,
    natural_gradient_explicit,
    policy_gradient,
)
from maxentrl.npg import discounted_visitation, soft_advantage
from maxentrl.soft_bellman import soft_policy_evaluation
from maxentrl.softmax_policy import MLPPolicy, score, tabular_jacobian

__all__ = ["check_natural_gradient"]

Answer = Callable[[Tensor, Tensor, Tensor], Tensor]


def _problem(kind: str, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor, bool]:
    """(psi, adv, weights, whether F is invertible) for one kind of case."""
    b, A, tau = 4, 3, 0.5
    if kind == "table":
        S = 5
        mdp = random_mdp(b, S, A, generator=gen, gamma=0.9)
        e = torch.rand((b, S, A), generator=gen, dtype=torch.float64) + 0.05
        pi = e / e.sum(-1, keepdim=True)
        psi = score(tabular_jacobian(b, S, A), pi)
        invertible = False
    else:
        S = 12
        mdp = random_mdp(b, S, A, generator=gen, gamma=0.9)
        net = MLPPolicy(n_features=3, n_hidden=3, n_actions=A)  # 20 parameters < 24 policy degrees of freedom
        x = torch.randn((b, S, 3), generator=gen, dtype=torch.float64)
        theta = net.init(b, generator=gen)
        pi = torch.softmax(net.logits(theta, x), -1)
        psi = score(net.jacobian(theta, x), pi)
        invertible = kind != "sampled"
    Q, _ = soft_policy_evaluation(mdp, pi, tau)
    adv = soft_advantage(Q, pi, tau)
    W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
    if kind == "sampled":  # 10 draws of (s, a) from W: counts / 10, mostly zeros
        idx = torch.multinomial(W.reshape(b, -1), 10, replacement=True, generator=gen)
        W = torch.zeros(b, S * A, dtype=torch.float64).scatter_add_(1, idx, torch.full(idx.shape, 0.1, dtype=torch.float64))
        W = W.reshape(b, S, A)
        adv = adv + torch.randn(adv.shape, generator=gen, dtype=torch.float64)  # noisy estimates, as from returns
    if kind == "large":
        adv = 1000.0 * adv
    return psi, adv, W, invertible


def _reference(psi: Tensor, adv: Tensor, W: Tensor) -> Tensor:
    """F⁺ g from the eigendecomposition of F (no least-squares solver involved)."""
    return natural_gradient_explicit(fisher_matrix(psi, W), policy_gradient(psi, adv, W), pseudo_inverse=True)


def _fitted(psi: Tensor, w: Tensor, W: Tensor) -> Tensor:
    """√W ⊙ (ψ·w): the fitted values of eq. 66, the same for every solution."""
    return W.sqrt() * torch.einsum("bsap,bp->bsa", psi, w)


CASES = (
    ("a small network, exact expectations (F invertible)", "network",
     "Build the rows sqrt(W) psi (shape [b, S*A, p]) and targets sqrt(W) adv, and solve the least-squares problem."),
    ("a table of logits (F singular: one null direction per state)", "table",
     "F is singular here; solving F w = g by inversion fails. Use a least-squares solver on the rows "
     "(torch.linalg.lstsq with driver='gelsd', or a pseudo-inverse)."),
    ("sampled rows: weights are counts/N, mostly zero", "sampled",
     "Rows of zero weight must not matter; multiply rows and targets by sqrt(W), not W."),
    ("advantages a thousand times larger", "large",
     "The solution is linear in adv: scale and shapes should carry through unchanged."),
)


def check_natural_gradient(fn: Answer, *, seed: int = 0, raise_on_failure: bool = False) -> bool:
    """Check ``fn(psi, adv, weights) -> w[b, p]``, a solution of eq. 66, against F⁺g; see the module docstring."""
    gen = torch.Generator().manual_seed(seed)
    ok = True
    for description, kind, hint in CASES:
        psi, adv, W, invertible = _problem(kind, gen)
        try:
            got = call_answer(fn, psi.clone(), adv.clone(), W.clone())
            if not isinstance(got, Tensor):
                raise AssertionError(f"{description}: return a tensor, got {type(got).__name__}")
            if tuple(got.shape) != (psi.shape[0], psi.shape[-1]):
                raise AssertionError(f"{description}: expected shape [b, p] = {(psi.shape[0], psi.shape[-1])}, "
                                     f"got {tuple(got.shape)}")
            got = got.to(torch.float64)
            if not bool(torch.isfinite(got).all()):
                raise AssertionError(f"{description}: your w holds inf or NaN. {hint}")
            want = _reference(psi, adv, W)  # computed after the answer ran, from the original tensors
            fit_err = float((_fitted(psi, got, W) - _fitted(psi, want, W)).norm() / _fitted(psi, want, W).norm())
            if fit_err > 1e-8:
                raise AssertionError(f"{description}: the fitted log-probability changes differ from F⁺g's by "
                                     f"{fit_err:.2e} (relative). {hint}")
            if invertible:
                w_err = float(((got - want).norm(dim=-1) / want.norm(dim=-1)).max())
                if w_err > 1e-6:
                    raise AssertionError(f"{description}: w differs from F⁻¹g by {w_err:.2e} (relative). {hint}")
        except Delegated as exc:
            report("check_natural_gradient", False, str(exc))
            print(f"  FAIL  {exc}")
            if raise_on_failure:
                raise AssertionError(str(exc)) from None
            return False
        except AssertionError as failure:
            if ok:  # the grading log keeps the first reason
                report("check_natural_gradient", False, str(failure))
            if raise_on_failure:
                raise
            print(f"  FAIL  {failure}")
            ok = False
            continue
        except Exception as exc:  # the reader's code may fail in any way; report it
            message = f"{description}: your function raised {type(exc).__name__}: {exc}"
            if ok:
                report("check_natural_gradient", False, message)
            if raise_on_failure:
                raise AssertionError(message) from exc
            print(f"  FAIL  {message}")
            ok = False
            continue
        print(f"  ok    {description}")
    if ok:
        report("check_natural_gradient", True)
        print("all checks passed: your least-squares solve returns the natural gradient")
    return ok
