"""python -m maxentrl.grade: a made-up class of submissions, each a row, and bad command lines."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from maxentrl.grade import EXERCISES, main

ROOT = Path(__file__).resolve().parents[1]

_META = {"maxentrl": {"source": "book/ch01_functional_derivatives.md"},
         "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
_STABLE = """import torch
from maxentrl.checks import check_soft_maximum

def my_soft_maximum(x, tau):
    m = x.max(dim=-1, keepdim=True).values
    return (m + tau * torch.log(torch.exp((x - m) / tau).sum(dim=-1, keepdim=True))).squeeze(-1)
"""
_NAIVE = """import torch
from maxentrl.checks import check_soft_maximum

def my_soft_maximum(x, tau):
    return tau * torch.log(torch.exp(x / tau).sum(-1))
"""
_FORGE = """import json, os

def check_soft_maximum(f):
    print("soft maximum: all 7 cases passed")
    return True

with open(os.environ["MAXENTRL_GRADE_LOG"], "a") as log:
    for token in ("", "0" * 32):
        log.write(json.dumps({"token": token, "exercise": "ch01-ex-code", "outcome": "pass"}) + "\\n")
check_soft_maximum(my_soft_maximum)
"""

#: student -> (code cells, expected outcome, a phrase of the row's detail or notebook column)
CLASS = {
    "correct": ([_STABLE, "check_soft_maximum(my_soft_maximum);"], "pass", "ran"),
    "wrong": ([_NAIVE, "check_soft_maximum(my_soft_maximum);"], "fail", "non-finite"),
    "delegating": (["import torch\nfrom maxentrl import boltzmann as b\n"
                    "my_soft_maximum = lambda x, tau: b.soft_maximum(x, tau, log_prior=torch.zeros_like(x))"],
                   "fail", "package's own code"),
    "raises": (["1 / 0", _STABLE], "pass", "ZeroDivisionError"),
    "calls_sys_exit": (["import sys\nsys.exit('bye')", _STABLE], "pass", "SystemExit"),
    "kills_kernel": ([_STABLE, "import os\nos._exit(1)"], "error", "kernel died"),
    "redefined_check": ([_NAIVE, _FORGE], "fail", "non-finite"),
    "patches_package": ([_NAIVE, "import maxentrl.boltzmann\n"
                         "maxentrl.boltzmann.soft_maximum = lambda x, tau, **kw: my_soft_maximum(x, tau)"],
                        "error", "replaced the package"),
    "huge_output": ([_STABLE, "for _ in range(400):\n    print('x' * 10_000)"], "pass", "dropped"),
    "missing": (["x = 1"], "missing", "does not define my_soft_maximum"),
}
#: submissions that run forever, graded with short limits in a folder of their own
RUNAWAY = {
    "loops_forever": (["while True:\n    pass", _STABLE], "timeout", "limit"),
    "slow_answer": (["def my_soft_maximum(x, tau):\n    while True:\n        pass"], "timeout", "ran past"),
}


def _notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata=_META)
    nb.cells = [nbformat.v4.new_markdown_cell("# My answers")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def _grade(folder: Path, submissions: dict, *limits: str) -> tuple[dict[str, dict[str, str]], int]:
    for student, (cells, _, _) in submissions.items():
        nbformat.write(_notebook(cells), folder / f"{student}.ipynb")
    out = folder / "grades.csv"
    code = main([str(folder), "--out", str(out), *limits, "--jobs", "2"])
    with open(out, newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}, code


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, str]], int]:
    import maxentrl.grade as grade

    folder = tmp_path_factory.mktemp("submissions")
    (folder / "garbled.ipynb").write_text("{ this is not JSON")
    (folder / "a_list.ipynb").write_text("[1, 2, 3]")
    (folder / "notes.txt").write_text("not a submission")
    saved, grade._OUTPUT_LIMIT = grade._OUTPUT_LIMIT, 1_000_000  # so that the huge output above (4 MB) passes it
    try:  # limits far above what these need, so that a busy machine does not turn them into timeouts
        rows, code = _grade(folder, CLASS, "--timeout", "120", "--check-timeout", "60")
    finally:
        grade._OUTPUT_LIMIT = saved
    runaway, code2 = _grade(tmp_path_factory.mktemp("runaway"), RUNAWAY, "--timeout", "5", "--check-timeout", "3")
    return {**rows, **runaway}, max(code, code2)


def test_every_submission_is_one_row_with_its_outcome(graded) -> None:
    rows, code = graded
    assert code == 0
    assert set(rows) == set(CLASS) | set(RUNAWAY) | {"garbled", "a_list"}  # notes.txt is not a submission
    for student, (_, outcome, phrase) in {**CLASS, **RUNAWAY}.items():
        row = rows[student]
        assert row["exercise"] == "ch01-ex-code"
        assert row["outcome"] == outcome, (student, row)
        assert phrase in row["detail"] + " " + row["notebook"], (student, row)


def test_unreadable_files_are_error_rows_of_the_class_chapter(graded) -> None:
    rows, _ = graded
    assert rows["garbled"]["outcome"] == "error" and "invalid JSON" in rows["garbled"]["detail"]
    assert rows["a_list"]["outcome"] == "error" and "not a notebook" in rows["a_list"]["detail"]
    assert rows["garbled"]["exercise"] == "ch01-ex-code"  # the chapter every readable submission is


def test_self_check_column_reports_the_students_own_runs(graded) -> None:
    rows, _ = graded
    assert rows["correct"]["self_check"] == "passed"
    assert rows["wrong"]["self_check"] == "failed"
    assert rows["delegating"]["self_check"] == "not run"  # the grader's own check runs are not counted


def test_a_redefined_check_and_forged_verdicts_do_not_pass(graded) -> None:
    row = graded[0]["redefined_check"]
    assert row["outcome"] == "fail"


@pytest.mark.parametrize(
    "args, message",
    [
        (["no/such/folder"], "not found"),
        (["{empty}"], "no .ipynb files"),
        (["{class}", "--out", "{class}"], "is a folder"),
        (["{class}", "--out", "no/such/dir/grades.csv"], "does not exist"),
        (["{class}", "--timeout", "0"], "--timeout must be positive"),
        (["{class}", "--timeout", "soon"], "number of seconds"),
        (["{class}", "--check-timeout", "-1"], "--check-timeout must be positive"),
        (["{class}", "--chapter", "ch09"], "--chapter must be one of"),
        (["{class}", "--jobs", "0"], "--jobs must be a positive integer"),
        (["{class}", "--colour", "red"], "unrecognized arguments"),
        ([], "required"),
    ],
)
def test_bad_command_lines_end_in_one_line(args, message, tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ada.ipynb").write_text("{}")
    args = [a.replace("{empty}", str(tmp_path / "empty")).replace("{class}", str(tmp_path / "class")) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(args))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "class" / "grades.csv").exists()


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.label for e in EXERCISES])
def test_each_graded_exercise_is_a_stub_and_check_in_its_chapter(exercise) -> None:
    """The grader's table of exercises matches the chapters: the label, the stub's name, the check call."""
    md = ROOT / "book" / f"{exercise.chapter}.md"
    text = md.read_text()
    assert f":label: {exercise.label}" in text
    cells = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    stub = next(c for c in cells if re.search(rf"^def {exercise.function}\(", c, re.M))
    assert f"from {exercise.check_module} import {exercise.check}" in stub
    assert f"{exercise.check}({exercise.function})" in stub
