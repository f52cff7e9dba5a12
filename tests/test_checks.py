"""maxentrl.checks: the exercise checkers accept right answers and reject wrong and delegating ones."""

from __future__ import annotations

import functools
import importlib

import pytest
import torch

from maxentrl.boltzmann import boltzmann_policy, soft_maximum
from maxentrl.checks import check_boltzmann_policy, check_soft_maximum


def stable_soft_maximum(x: torch.Tensor, tau: float) -> torch.Tensor:
    m = x.max(-1, keepdim=True).values
    return (m + tau * torch.log(torch.exp((x - m) / tau).sum(-1, keepdim=True))).squeeze(-1)


def naive_soft_maximum(x: torch.Tensor, tau: float) -> torch.Tensor:
    return tau * torch.log(torch.exp(x / tau).sum(-1))


def stable_boltzmann(x: torch.Tensor, tau: float) -> torch.Tensor:
    z = (x - x.max(-1, keepdim=True).values) / tau
    return z.exp() / z.exp().sum(-1, keepdim=True)


def test_checkers_accept_correct_answers() -> None:
    assert check_soft_maximum(stable_soft_maximum, raise_on_failure=True)
    assert check_boltzmann_policy(stable_boltzmann, raise_on_failure=True)


@pytest.mark.parametrize(
    "wrong",
    [
        naive_soft_maximum,  # overflows for x ~ 1000
        lambda x, tau: torch.logsumexp(x / tau, -1),  # forgot the factor τ
        lambda x, tau: tau * torch.logsumexp(x / tau, -1) - tau * torch.log(torch.tensor(float(x.shape[-1]))),  # the mean form
        lambda x, tau: x.max(-1).values,  # the hard maximum
        lambda x, tau: tau * torch.logsumexp(x / tau, 0),  # wrong axis
    ],
)
def test_soft_maximum_checker_rejects_wrong_answers(wrong) -> None:
    assert check_soft_maximum(wrong) is False
    with pytest.raises(AssertionError):
        check_soft_maximum(wrong, raise_on_failure=True)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda x, tau: torch.exp(x / tau) / torch.exp(x / tau).sum(-1, keepdim=True),  # overflows: nan
        lambda x, tau: torch.softmax(x, -1),  # ignores τ
        lambda x, tau: torch.softmax(x * tau, -1),  # multiplies by τ
        lambda x, tau: 1 / 0,  # raises
    ],
)
def test_boltzmann_checker_rejects_wrong_answers(wrong) -> None:
    assert check_boltzmann_policy(wrong) is False


def _package_soft_maximum():
    # reached without naming it: the module by a computed name, the function by getattr
    module = importlib.import_module("maxentrl." + "boltzmann")
    return getattr(module, "soft_" + "maximum")


@pytest.mark.parametrize(
    "delegating",
    [
        lambda x, tau: soft_maximum(x, tau, log_prior=torch.zeros_like(x)),
        lambda x, tau: _package_soft_maximum()(x, tau, log_prior=torch.zeros_like(x)),
        functools.partial(lambda f, x, tau: f(x, tau, log_prior=torch.zeros_like(x)), soft_maximum),
        lambda x, tau: stable_soft_maximum(x, tau) + 0 * soft_maximum(x, tau),  # right numbers, but it ran the package
        lambda x, tau: tau * torch.logsumexp(x / tau, -1),  # the exercise rules out logsumexp
        lambda x, tau: tau * (x / tau).logsumexp(-1),
    ],
)
def test_soft_maximum_checker_rejects_delegating_answers(delegating, capsys) -> None:
    assert check_soft_maximum(delegating) is False
    out = capsys.readouterr().out
    assert "FAIL" in out and ("package's own code" in out or "rules out" in out)
    with pytest.raises(AssertionError, match="package's own code|rules out"):
        check_soft_maximum(delegating, raise_on_failure=True)


def test_boltzmann_checker_rejects_the_package(capsys) -> None:
    assert check_boltzmann_policy(boltzmann_policy) is False
    assert check_boltzmann_policy(lambda x, tau: boltzmann_policy(x, tau)) is False
    assert "package's own code" in capsys.readouterr().out
    assert check_boltzmann_policy(lambda x, tau: torch.softmax(x / tau, -1)) is True  # torch is fair game here
