"""The exercise check of chapter 5 accepts right natural-gradient solves and rejects wrong or delegated ones."""

from __future__ import annotations

import functools

import pytest
import torch

from maxentrl.checks_ch05 import check_natural_gradient


def lstsq_answer(psi, adv, W):
    b, S, A, p = psi.shape
    root = W.sqrt()
    M = (root.unsqueeze(-1) * psi).reshape(b, S * A, p)
    y = (root * adv).reshape(b, S * A, 1)
    return torch.linalg.lstsq(M, y, driver="gelsd").solution.squeeze(-1)


def pinv_answer(psi, adv, W):
    b, S, A, p = psi.shape
    root = W.sqrt()
    M = (root.unsqueeze(-1) * psi).reshape(b, S * A, p)
    return (torch.linalg.pinv(M) @ (root * adv).reshape(b, S * A, 1)).squeeze(-1)


def normal_equations(psi, adv, W):  # fine when F is invertible, fails on the table of logits
    F = torch.einsum("bsa,bsap,bsaq->bpq", W, psi, psi)
    g = torch.einsum("bsa,bsap,bsa->bp", W, psi, adv)
    return torch.linalg.solve(F, g)


def weights_not_rooted(psi, adv, W):  # rows scaled by W instead of √W: a different regression
    b, S, A, p = psi.shape
    M = (W.unsqueeze(-1) * psi).reshape(b, S * A, p)
    return torch.linalg.lstsq(M, (W * adv).reshape(b, S * A, 1), driver="gelsd").solution.squeeze(-1)


def unweighted(psi, adv, W):
    b, S, A, p = psi.shape
    return torch.linalg.lstsq(psi.reshape(b, S * A, p), adv.reshape(b, S * A, 1), driver="gelsd").solution.squeeze(-1)


def plain_gradient(psi, adv, W):
    return torch.einsum("bsa,bsap,bsa->bp", W, psi, adv)


def delegate(psi, adv, W):
    from maxentrl.natural_gradient import natural_gradient_lstsq

    return natural_gradient_lstsq(psi, adv, W)


def delegate_renamed(psi, adv, W):
    import maxentrl.natural_gradient as ng

    solve = functools.partial(getattr(ng, "natural_gradient_explicit"), pseudo_inverse=True)
    F = torch.einsum("bsa,bsap,bsaq->bpq", W, psi, psi)
    g = torch.einsum("bsa,bsap,bsa->bp", W, psi, adv)
    return solve(F, g)


@pytest.mark.parametrize("answer", [lstsq_answer, pinv_answer])
def test_right_answers_pass(answer) -> None:
    assert check_natural_gradient(answer, raise_on_failure=True)


@pytest.mark.parametrize("answer", [normal_equations, weights_not_rooted, unweighted, plain_gradient])
def test_wrong_answers_fail(answer, capsys) -> None:
    assert not check_natural_gradient(answer)
    assert "FAIL" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        check_natural_gradient(answer, raise_on_failure=True)


@pytest.mark.parametrize("answer", [delegate, delegate_renamed])
def test_delegating_answers_are_rejected(answer, capsys) -> None:
    assert not check_natural_gradient(answer)
    assert "package's own code" in capsys.readouterr().out


def test_an_answer_that_raises_is_reported_not_crashing(capsys) -> None:
    def broken(psi, adv, W):
        raise RuntimeError("not yet")

    assert not check_natural_gradient(broken)
    assert "RuntimeError" in capsys.readouterr().out
