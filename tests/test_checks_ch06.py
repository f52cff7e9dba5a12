"""The chapter 6 exercise checker accepts a right forward pass and rejects wrong ones."""

from __future__ import annotations

import importlib

import pytest
import torch

from maxentrl.checks_ch06 import check_forward_pass
from maxentrl.irl.maxent import forward_pass


def right(mdp, pi, D0, horizon):
    D_t, D = D0.clone(), D0.clone()
    for _ in range(horizon):
        D_t = torch.zeros_like(D_t).index_add_(1, mdp.dst, D_t[:, mdp.src] * pi)
        D = D + D_t
    return D


def loop_version(mdp, pi, D0, horizon):
    D_t, D = D0.clone(), D0.clone()
    for _ in range(horizon):
        nxt = torch.zeros_like(D_t)
        for a in range(mdp.num_actions):
            s, s2 = int(mdp.src[a]), int(mdp.dst[a])
            nxt[:, s2] += D_t[:, s] * pi[:, a]
        D_t = nxt
        D = D + D_t
    return D


def no_start(mdp, pi, D0, horizon):
    return right(mdp, pi, D0, horizon) - D0


def swapped(mdp, pi, D0, horizon):  # pushes mass backwards along the actions
    D_t, D = D0.clone(), D0.clone()
    for _ in range(horizon):
        D_t = torch.zeros_like(D_t).index_add_(1, mdp.src, D_t[:, mdp.dst] * pi)
        D = D + D_t
    return D


def assumes_sorted(mdp, pi, D0, horizon):  # ignores mdp.dst order
    D_t, D = D0.clone(), D0.clone()
    dst = mdp.dst.sort().values
    for _ in range(horizon):
        D_t = torch.zeros_like(D_t).index_add_(1, dst, D_t[:, mdp.src] * pi)
        D = D + D_t
    return D


def test_accepts_right_answers(capsys) -> None:
    assert check_forward_pass(right) is True
    assert check_forward_pass(loop_version, raise_on_failure=True) is True
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [no_start, swapped, assumes_sorted, lambda *a: None, lambda *a: 1 / 0])
def test_rejects_wrong_answers(wrong, capsys) -> None:
    assert check_forward_pass(wrong) is False
    assert "✗" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        check_forward_pass(wrong, raise_on_failure=True)


def test_hint_names_the_missing_start(capsys) -> None:
    check_forward_pass(no_start)
    assert "start distribution" in capsys.readouterr().out


@pytest.mark.parametrize(
    "delegating",
    [
        lambda mdp, pi, D0, horizon: forward_pass(mdp, pi, D0, horizon=horizon)[0],
        lambda mdp, pi, D0, horizon: getattr(importlib.import_module("maxentrl.irl." + "maxent"), "forward_pass")(
            mdp, pi, D0, horizon=horizon)[0],
    ],
)
def test_rejects_answers_that_run_the_package(delegating, capsys) -> None:
    assert check_forward_pass(delegating) is False
    assert "package's own code" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="package's own code"):
        check_forward_pass(delegating, raise_on_failure=True)


def test_the_graph_given_is_the_readers_to_use(capsys) -> None:
    # methods of GraphMDP (the data structure handed over) are not delegation
    def with_methods(mdp, pi, D0, horizon):
        assert mdp.num_actions == mdp.src.numel() and mdp.out_degree().numel() == mdp.num_states
        return right(mdp, pi, D0, horizon)

    assert check_forward_pass(with_methods, raise_on_failure=True) is True
