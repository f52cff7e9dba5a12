"""maxentrl.checking: the call watch sees delegation however it is reached, and the report channel."""

from __future__ import annotations

import json
import sys
import threading

import pytest
import torch

from maxentrl.boltzmann import soft_maximum
from maxentrl.checking import GRADE_LOG_ENV, CallWatch, Delegated, call_answer, report
from maxentrl.mdp import random_mdp


def honest(x: torch.Tensor) -> torch.Tensor:
    m = x.max(-1, keepdim=True).values
    return (m + torch.log(torch.exp(x - m).sum(-1, keepdim=True))).squeeze(-1)


def test_an_honest_answer_passes_and_the_hook_is_removed() -> None:
    before = sys.getprofile()
    x = torch.randn(3, 4)
    assert torch.allclose(call_answer(honest, x), torch.logsumexp(x, -1))
    assert sys.getprofile() is before


def test_a_call_into_the_package_is_seen_whatever_its_name() -> None:
    renamed = soft_maximum  # another name for the same code
    with CallWatch() as watch:
        renamed(torch.zeros(2, 3), 1.0)
    assert "maxentrl.boltzmann.soft_maximum" in watch.calls
    with pytest.raises(Delegated, match="package's own code"):
        call_answer(lambda x: renamed(x, 1.0), torch.zeros(2, 3))


def test_a_call_from_another_thread_is_seen() -> None:
    def threaded(x):
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("v", soft_maximum(x, 1.0)))
        t.start()
        t.join()
        return out["v"]

    with pytest.raises(Delegated):
        call_answer(threaded, torch.zeros(2, 3))


def test_allowed_modules_and_forbidden_names() -> None:
    mdp = random_mdp(2, 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert call_answer(lambda m: m.gamma_tensor(), mdp, allowed=("maxentrl.mdp",)).shape == (2,)
    with pytest.raises(Delegated):
        call_answer(lambda m: m.gamma_tensor(), mdp)  # not allowed unless the exercise says so
    with pytest.raises(Delegated, match="rules out"):
        call_answer(lambda x: torch.logsumexp(x, -1), torch.zeros(2, 3), forbidden_names=("logsumexp",))


def test_exceptions_of_the_answer_propagate() -> None:
    with pytest.raises(ZeroDivisionError):
        call_answer(lambda: 1 / 0)


def test_report_appends_json_lines_only_when_asked(tmp_path, monkeypatch) -> None:
    log = tmp_path / "grade.jsonl"
    monkeypatch.delenv(GRADE_LOG_ENV, raising=False)
    report("check_x", True)
    assert not log.exists()
    monkeypatch.setenv(GRADE_LOG_ENV, str(log))
    report("check_x", True)
    report("check_y", False, "largest error 1")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"check": "check_x", "passed": True, "detail": ""},
                     {"check": "check_y", "passed": False, "detail": "largest error 1"}]
    monkeypatch.setenv(GRADE_LOG_ENV, str(tmp_path / "missing-dir" / "log"))
    report("check_x", True)  # an unwritable log never breaks the reader's notebook


@pytest.mark.parametrize("module, check, answer", [
    ("maxentrl.checks_ch03", "check_svgd_direction", lambda x, score, h: x * 0),
    ("maxentrl.checks_ch04", "check_proper_returns", lambda r, e, d, b, g, t: r * 0),
    ("maxentrl.checks_ch05", "check_natural_gradient", lambda psi, adv, w: psi[:, 0, 0] * 0),
])
def test_every_chapter_check_writes_the_grading_log(module, check, answer, tmp_path, monkeypatch, capsys) -> None:
    import importlib
    import json

    log = tmp_path / "grade.jsonl"
    monkeypatch.setenv(GRADE_LOG_ENV, str(log))
    assert getattr(importlib.import_module(module), check)(answer) is False
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"check": check, "passed": False, "detail": lines[0]["detail"]}] and lines[0]["detail"]
