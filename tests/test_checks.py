"""maxentrl.checks: the exercise checkers accept right answers and reject wrong ones."""

from __future__ import annotations

import pytest
import torch

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
