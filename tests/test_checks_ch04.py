"""The checker of chapter 4's coding exercise accepts right answers and rejects wrong and delegating ones."""

from __future__ import annotations

import functools

import pytest
import torch

import maxentrl.a2c as a2c
from maxentrl.checks_ch04 import Delegated, check_proper_returns


def right(rewards, entropies, dones, bootstrap, gamma, tau):
    R = bootstrap
    out = torch.empty_like(rewards)
    for t in reversed(range(rewards.shape[0])):
        R = rewards[t] + tau * entropies[t] + gamma * (~dones[t]).to(rewards.dtype) * R
        out[t] = R
    return out


def naive(rewards, entropies, dones, bootstrap, gamma, tau):  # eq. 79's returns: no bonus in them
    return right(rewards, 0 * entropies, dones, bootstrap, gamma, tau)


def bonus_first_step_only(rewards, entropies, dones, bootstrap, gamma, tau):
    return right(rewards, 0 * entropies, dones, bootstrap, gamma, tau) + tau * entropies


def leaks_across_episodes(rewards, entropies, dones, bootstrap, gamma, tau):
    return right(rewards, entropies, torch.zeros_like(dones), bootstrap, gamma, tau)


def kl_instead_of_entropy(rewards, entropies, dones, bootstrap, gamma, tau):  # a constant off per step
    return right(rewards - tau * 0.7, entropies, dones, bootstrap, gamma, tau)


def delegates(rewards, entropies, dones, bootstrap, gamma, tau):
    return a2c.proper_returns(rewards, entropies, dones, bootstrap, gamma=gamma, tau=tau)


def delegates_in_disguise(rewards, entropies, dones, bootstrap, gamma, tau):
    f = functools.partial(getattr(a2c, "n_step_returns"))
    return f(rewards + tau * entropies, dones, bootstrap, gamma)


def test_right_answer_passes() -> None:
    assert check_proper_returns(right, raise_on_failure=True)


@pytest.mark.parametrize("wrong", [naive, bonus_first_step_only, leaks_across_episodes, kl_instead_of_entropy])
def test_wrong_answers_fail(wrong) -> None:
    assert not check_proper_returns(wrong)
    with pytest.raises(AssertionError):
        check_proper_returns(wrong, raise_on_failure=True)


@pytest.mark.parametrize("cheat", [delegates, delegates_in_disguise])
def test_answers_that_call_the_package_fail(cheat) -> None:
    assert not check_proper_returns(cheat)
    with pytest.raises(Delegated):
        check_proper_returns(cheat, raise_on_failure=True)


def float32_mask(rewards, entropies, dones, bootstrap, gamma, tau):
    R = bootstrap
    out = torch.empty_like(rewards)
    for t in reversed(range(rewards.shape[0])):
        R = rewards[t] + tau * entropies[t] + gamma * (~dones[t]) * R  # gamma * bool mask: float32
        out[t] = R
    return out


def test_lost_precision_is_named(capsys) -> None:
    assert not check_proper_returns(float32_mask)
    assert "precision is lost" in capsys.readouterr().out


def test_a_crashing_answer_is_reported_not_raised() -> None:
    assert not check_proper_returns(lambda *args: 1 / 0)
