"""Checks a reader can run on their own answers to chapter 6's exercises.

``check_forward_pass(fn)`` compares a reader's forward pass of Algorithm 1
(Ziebart et al. 2008, steps 4–6),

    fn(mdp, pi, D0, horizon) -> D_state [B, S],

with :func:`maxentrl.irl.maxent.forward_pass` on random graphs: one goal,
then a batch of goals with several starts, then a graph whose actions are not
sorted by state. It prints a one-line verdict (with a hint on the first
failure) and returns ``True`` or ``False``; with ``raise_on_failure=True`` a
failure raises :class:`AssertionError` instead.

An answer that calls the package (its ``forward_pass``, or any other module
that computes visitation frequencies) fails, whatever its numbers; the fields
and methods of the ``mdp`` it is given are the reader's to use. See
:mod:`maxentrl.checking`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor

from maxentrl.checking import call_answer, report
from maxentrl.irl.graph import GraphMDP
from maxentrl.irl.maxent import backward_pass, forward_pass, local_action_probabilities

__all__ = ["check_forward_pass"]

ForwardPass = Callable[[GraphMDP, Tensor, Tensor, int], Tensor]


def _random_case(seed: int, *, num_states: int, goals: int, shuffle: bool) -> tuple[GraphMDP, Tensor, Tensor, int]:
    g = torch.Generator().manual_seed(seed)
    S = num_states
    src, dst = [], []
    for s in range(S):
        for t in range(S):
            if s != t and (t == (s + 1) % S or float(torch.rand((), generator=g)) < 0.3):
                src.append(s)
                dst.append(t)
    perm = torch.randperm(len(src), generator=g) if shuffle else torch.arange(len(src))
    src_t = torch.tensor(src)[perm]
    dst_t = torch.tensor(dst)[perm]
    f = torch.rand(S, 2, generator=g, dtype=torch.float64)
    mdp = GraphMDP(S, src_t, dst_t, f, torch.zeros(len(src), 2, dtype=torch.float64))
    goal = torch.randperm(S, generator=g)[:goals]
    theta = -1.0 - torch.rand(2, generator=g, dtype=torch.float64)
    horizon = 3 * S
    bw = backward_pass(mdp, theta, goal, horizon=horizon)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    D0 = torch.rand(goals, S, generator=g, dtype=torch.float64)
    D0[torch.arange(goals), goal] = 0.0
    D0 = D0 / D0.sum(1, keepdim=True)
    return mdp, pi, D0, horizon


def check_forward_pass(fn: ForwardPass, *, raise_on_failure: bool = False) -> bool:
    """Check ``fn(mdp, pi, D0, horizon) -> D_state[B, S]`` against Algorithm 1's forward pass."""
    try:
        summary = _check_forward_pass(fn)
    except AssertionError as exc:
        report("check_forward_pass", False, str(exc))
        if raise_on_failure:
            raise
        print(f"✗ forward pass: {exc}")
        return False
    report("check_forward_pass", True)
    print(f"✓ {summary}")
    return True


def _check_forward_pass(fn: ForwardPass) -> str:
    cases = [
        ("one goal, one start distribution", dict(num_states=6, goals=1, shuffle=False)),
        ("a batch of four goals", dict(num_states=9, goals=4, shuffle=False)),
        ("actions not sorted by state", dict(num_states=8, goals=3, shuffle=True)),
    ]
    for k, (what, kw) in enumerate(cases):
        mdp, pi, D0, horizon = _random_case(100 + k, **kw)
        try:
            got = call_answer(fn, copy.deepcopy(mdp), pi.clone(), D0.clone(), horizon, allowed=("maxentrl.irl.graph",))
        except AssertionError:
            raise
        except Exception as exc:  # any failure of the reader's code is a failed check
            raise AssertionError(f"{what}: your forward pass raised {type(exc).__name__}: {exc}") from exc
        want, _, _ = forward_pass(mdp, pi, D0, horizon=horizon)  # after the answer ran
        if not isinstance(got, Tensor):
            raise AssertionError(f"{what}: return a tensor D_state[B, S], got {type(got).__name__}")
        if tuple(got.shape) != tuple(want.shape):
            raise AssertionError(f"{what}: expected shape [B, S] = {tuple(want.shape)}, got {tuple(got.shape)}")
        err = float((got.to(want.dtype) - want).abs().max())
        if not err <= 1e-9:
            hint = ("remember D_s sums D_{s,t} over t = 0..N, the start distribution included (step 6), "
                    "and that the flow along action a is D_{src(a),t} · π(a|src(a)) (step 5)")
            if abs(float(got.sum()) - float((want - D0).sum())) < 1e-6:
                hint = "you left out D_{s,0}, the start distribution (step 4)"
            raise AssertionError(f"{what}: largest error {err:.2e}; {hint}")
    return "forward pass correct on all 3 cases"
