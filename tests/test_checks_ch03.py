"""The chapter 3 checker accepts a right Stein direction and rejects wrong ones, and one that calls the package."""

from __future__ import annotations

import pytest
import torch

from maxentrl import svgd
from maxentrl.checks_ch03 import check_svgd_direction


def right(x, score, h):
    diff = x.unsqueeze(-2) - x.unsqueeze(-3)  # [B, i, k, d]: x_i - x_k
    K = torch.exp(-diff.square().sum(-1) / h.view(-1, 1, 1))
    drive = torch.einsum("bik,bid->bkd", K, score)
    repulse = (-2.0 * diff / h.view(-1, 1, 1, 1) * K.unsqueeze(-1)).sum(1)
    return (drive + repulse) / x.shape[1]


def no_repulsion(x, score, h):
    K = torch.exp(-(x.unsqueeze(-2) - x.unsqueeze(-3)).square().sum(-1) / h.view(-1, 1, 1))
    return torch.einsum("bik,bid->bkd", K, score) / x.shape[1]


def wrong_sign(x, score, h):
    diff = x.unsqueeze(-2) - x.unsqueeze(-3)
    K = torch.exp(-diff.square().sum(-1) / h.view(-1, 1, 1))
    return (torch.einsum("bik,bid->bkd", K, score) + (2.0 * diff / h.view(-1, 1, 1, 1) * K.unsqueeze(-1)).sum(1)) / x.shape[1]


def first_bandwidth_only(x, score, h):
    return right(x, score, h[:1].expand_as(h))


def calls_package(x, score, h):
    return svgd.svgd_direction(x, score, bandwidth=h)


def calls_package_via_helper(x, score, h):
    f = getattr(__import__("maxentrl.svgd", fromlist=["x"]), "svgd_direction")
    return f(x, score, bandwidth=h) + 0.0


def test_accepts_a_right_answer(capsys) -> None:
    assert check_svgd_direction(right, raise_on_failure=True)
    assert "all checks passed" in capsys.readouterr().out


def test_reports_failure_without_raising() -> None:
    assert check_svgd_direction(no_repulsion) is False


@pytest.mark.parametrize("wrong, match", [
    (no_repulsion, "largest difference"), (wrong_sign, "one dimension"), (first_bandwidth_only, "one bandwidth per set"),
    (calls_package, r"package.s own code \(maxentrl.svgd"), (calls_package_via_helper, r"package.s own code \(maxentrl.svgd"),
    (lambda x, s, h: x[..., 0], "shape"), (lambda x, s, h: 1 / 0, "raised ZeroDivisionError"),
])
def test_rejects(wrong, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        check_svgd_direction(wrong, raise_on_failure=True)
