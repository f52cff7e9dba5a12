"""The exercise checker of chapter 2 accepts a right soft backup and rejects wrong ones."""

from __future__ import annotations

import importlib

import pytest
import torch

from maxentrl.checks_ch02 import check_soft_backup
from maxentrl.soft_bellman import soft_bellman_backup, soft_value


def _gamma(mdp, Q):
    g = mdp.gamma_tensor()
    return g.view(-1, 1, 1)


def _tau(tau, Q):
    return tau.view(-1, 1) if isinstance(tau, torch.Tensor) else tau


def right(Q, mdp, tau):
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bsan,bn->bsa", mdp.P, _soft(Q, tau))


def hard_max(Q, mdp, tau):
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bsan,bn->bsa", mdp.P, Q.amax(-1))


def no_discount(Q, mdp, tau):
    return mdp.r + torch.einsum("bsan,bn->bsa", mdp.P, _soft(Q, tau))


def _soft(Q, tau):
    t = _tau(tau, Q)
    return t * torch.logsumexp(Q / (t.unsqueeze(-1) if isinstance(t, torch.Tensor) else t), dim=-1)


def schulman_uniform(Q, mdp, tau):  # τ log E_uniform[exp(Q/τ)]: off by τ log|A| inside
    t = _tau(tau, Q)
    V = _soft(Q, tau) - t * torch.log(torch.tensor(float(Q.shape[-1]), dtype=Q.dtype))
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bsan,bn->bsa", mdp.P, V)


def scalar_tau_only(Q, mdp, tau):
    if isinstance(tau, torch.Tensor):
        tau = float(tau.mean())
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bsan,bn->bsa", mdp.P, tau * torch.logsumexp(Q / tau, dim=-1))


def naive_exp(Q, mdp, tau):
    t = _tau(tau, Q)
    tt = t.unsqueeze(-1) if isinstance(t, torch.Tensor) else t
    V = t * torch.log(torch.exp(Q / tt).sum(-1))
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bsan,bn->bsa", mdp.P, V)


def transposed(Q, mdp, tau):
    V = _soft(Q, tau)
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bnas,bn->bsa", mdp.P, V)


def crashes(Q, mdp, tau):
    raise RuntimeError("not implemented")


def test_accepts_a_reader_version(capsys) -> None:
    assert check_soft_backup(right, raise_on_failure=True) is True
    assert "all checks passed" in capsys.readouterr().out


def via_soft_value(Q, mdp, tau):  # right numbers, from the package's soft value
    return mdp.r + _gamma(mdp, Q) * torch.einsum("bsan,bn->bsa", mdp.P, soft_value(Q, tau))


@pytest.mark.parametrize(
    "delegating",
    [
        soft_bellman_backup,
        lambda Q, mdp, tau: soft_bellman_backup(Q, mdp, tau),
        via_soft_value,
        lambda Q, mdp, tau: getattr(importlib.import_module("maxentrl.soft_" + "bellman"), "boltzmann_backup")(Q, mdp, tau),
    ],
)
def test_rejects_answers_that_run_the_package(delegating, capsys) -> None:
    assert check_soft_backup(delegating) is False
    assert "package's own code" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="package's own code"):
        check_soft_backup(delegating, raise_on_failure=True)


def test_reports_failure_without_raising_by_default(capsys) -> None:
    assert check_soft_backup(hard_max) is False
    out = capsys.readouterr().out
    assert "FAIL" in out and "all checks passed" not in out


@pytest.mark.parametrize(
    "wrong, match",
    [
        (hard_max, "moderate"),
        (no_discount, "moderate"),
        (schulman_uniform, "moderate"),
        (transposed, "moderate"),
        (scalar_tau_only, "one temperature per MDP"),
        (naive_exp, "inf or NaN"),
        (crashes, "raised RuntimeError"),
        (lambda Q, mdp, tau: Q[..., 0], "shape"),
        (lambda Q, mdp, tau: 1.0, "tensor"),
    ],
)
def test_rejects_wrong_backups(wrong, match: str) -> None:
    with pytest.raises(AssertionError, match=match) as excinfo:
        check_soft_backup(wrong, raise_on_failure=True)
    if wrong is not crashes:
        assert "raised" not in str(excinfo.value)  # rejected for its answer, not for crashing
