"""Grade a class's notebooks: ``python -m maxentrl.grade SUBMISSIONS_DIR --out grades.csv``.

Every ``*.ipynb`` in ``SUBMISSIONS_DIR`` is one student's submission, named by
its file stem (``ada.ipynb`` is student ``ada``). For each one the grader

1. copies it into a scratch folder of its own (all copies are made before any
   notebook runs, so one submission cannot change another), and executes it
   top to bottom in a fresh kernel started in that folder, with a time limit
   for the whole notebook (``--timeout``); a cell that fails does not stop the
   run, and output beyond a size limit is dropped;
2. then runs, in the same kernel, the package's own check of every coding
   exercise of the notebook's chapter on the student's function (its name is
   fixed by the exercise: ``my_soft_maximum``, ``my_soft_backup``,
   ``my_forward_pass``), each with its own time limit (``--check-timeout``).
   The check is loaded afresh from the package's files, so a check redefined
   in the notebook plays no part, and it rejects an answer that delegates to
   the package (see :mod:`maxentrl.checking`). Its outcome comes back through
   a JSON-lines file named by ``MAXENTRL_GRADE_LOG``, in records carrying a
   random token that only this final step knows, so lines a notebook writes
   there itself are not taken for verdicts;
3. writes one CSV row per student and exercise:

   ``pass``     the check accepted the student's function;
   ``fail``     the check rejected it (wrong values, a crash inside it, or delegation);
   ``timeout``  the check ran past its limit, or the notebook ran past its own
                before defining the function;
   ``error``    the submission could not be run or checked: not a notebook,
                invalid JSON, a kernel that died (``os._exit``, a crash), or a
                package the notebook modified;
   ``missing``  the notebook ran but never defined the function.

   The row also says whether the student ran the check in the notebook
   themselves (``self_check``: the last outcome the notebook's own check calls
   reported) and how the notebook run went (``notebook``).

The grader is not a sandbox. It keeps a submission from crashing the run or
from passing by redefining a check, delegating or writing its own verdicts,
but the notebooks run as the user who runs the grader: grade code you do not
trust inside a container or a virtual machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EXERCISES", "Exercise", "grade", "grade_notebook", "main"]


@dataclass(frozen=True)
class Exercise:
    """A coding exercise the grader can check."""

    label: str  #: the exercise's label in the chapter (``ch01-ex-code``)
    chapter: str  #: the chapter source's stem (``ch01_functional_derivatives``)
    function: str  #: the name the student's function must have
    check_module: str  #: the package module holding the check
    check: str  #: the check's name in that module


EXERCISES: tuple[Exercise, ...] = (
    Exercise("ch01-ex-code", "ch01_functional_derivatives", "my_soft_maximum", "maxentrl.checks", "check_soft_maximum"),
    Exercise("ch02-ex-code", "ch02_soft_bellman", "my_soft_backup", "maxentrl.checks_ch02", "check_soft_backup"),
    Exercise("ch06-ex-forward", "ch06_maxent_irl", "my_forward_pass", "maxentrl.checks_ch06", "check_forward_pass"),
)

OUTCOMES = ("pass", "fail", "timeout", "error", "missing")
COLUMNS = ("student", "chapter", "exercise", "outcome", "detail", "self_check", "notebook")
_PACKAGE_DIR = Path(__file__).resolve().parent
_OUTPUT_LIMIT = 20_000_000  # characters of output kept per notebook (figures included); the rest is dropped


# --------------------------------------------------------------------------
# The step that runs inside the student's kernel (standard library only)
# --------------------------------------------------------------------------

class _CheckTimeout(BaseException):
    """Raised in the kernel when a check runs past its limit (not an Exception, so checks do not swallow it)."""


def run_checks_in_kernel(namespace: dict[str, Any], token: str, log: str, package_dir: str,
                         exercises: list[dict[str, str]], time_limit: float) -> None:
    """Run each exercise's check, loaded afresh from ``package_dir``, on ``namespace[function]``.

    Appends one JSON record per exercise, with ``token``, to the file ``log``.
    This runs in the student's kernel after the notebook, called by the cell
    the grader appends; it uses nothing the notebook can have redefined
    except the package modules the check imports, which it verifies.
    """
    import contextlib
    import importlib.util
    import inspect
    import io
    import signal

    def write(exercise: str, outcome: str, detail: str) -> None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"token": token, "exercise": exercise, "outcome": outcome,
                                "detail": " ".join(detail.split())[:400]}) + "\n")

    def load(module: str) -> Any:
        path = os.path.join(package_dir, *module.split(".")[1:]) + ".py"
        name = f"_grader_copy_{module.replace('.', '_')}"
        spec = importlib.util.spec_from_file_location(name, path)
        copy = importlib.util.module_from_spec(spec)
        sys.modules[name] = copy
        spec.loader.exec_module(copy)
        return copy

    def modified(copy: Any) -> str | None:
        """The first name the check imports from the package that no longer comes from the package's files."""
        import ast

        tree = ast.parse(open(copy.__file__, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("maxentrl"):
                for alias in node.names:
                    value = getattr(copy, alias.asname or alias.name, None)
                    if not callable(value):
                        continue
                    try:
                        source = inspect.getsourcefile(value) or ""
                    except TypeError:  # a built-in: not the package's
                        source = ""
                    if not os.path.realpath(source).startswith(os.path.realpath(package_dir) + os.sep):
                        return f"{node.module}.{alias.name}"
        return None

    class Tail(io.TextIOBase):  # keeps the end of what the check prints, however much
        def __init__(self) -> None:
            self.text = ""

        def write(self, s: str) -> int:
            self.text = (self.text + s)[-4000:]
            return len(s)

    def on_alarm(signum: int, frame: Any) -> None:
        raise _CheckTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    own_log = os.environ.pop("MAXENTRL_GRADE_LOG", None)  # these calls are not the student's own check runs
    try:
        for ex in exercises:
            answer = namespace.get(ex["function"])
            if answer is None:
                write(ex["label"], "missing", f"the notebook does not define {ex['function']}")
                continue
            if not callable(answer):
                write(ex["label"], "fail", f"{ex['function']} is not a function")
                continue
            saved = sys.modules.get("maxentrl.checking")
            try:
                sys.modules["maxentrl.checking"] = load("maxentrl.checking")  # the check binds a fresh copy
                check_module = load(ex["check_module"])
            except Exception as exc:
                write(ex["label"], "error", f"the check could not be loaded: {type(exc).__name__}: {exc}")
                continue
            finally:
                if saved is not None:
                    sys.modules["maxentrl.checking"] = saved
            changed = modified(check_module)
            if changed:
                write(ex["label"], "error", f"the notebook replaced the package's {changed}")
                continue
            out = Tail()
            signal.setitimer(signal.ITIMER_REAL, time_limit)
            try:
                with contextlib.redirect_stdout(out):
                    getattr(check_module, ex["check"])(answer, raise_on_failure=True)
                outcome, detail = "pass", ""
            except _CheckTimeout:
                outcome, detail = "timeout", f"the check ran past {time_limit:g} s"
            except AssertionError as failure:
                outcome, detail = "fail", str(failure)
            except BaseException as exc:  # noqa: BLE001 - anything else is the check failing to run
                outcome, detail = "error", f"the check stopped with {type(exc).__name__}: {exc}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            write(ex["label"], outcome, detail)
    finally:
        signal.signal(signal.SIGALRM, previous)
        if own_log is not None:
            os.environ["MAXENTRL_GRADE_LOG"] = own_log


_CHECK_CELL = """\
import importlib.util as _maxentrl_grader_util, sys as _maxentrl_grader_sys
_maxentrl_grader_spec = _maxentrl_grader_util.spec_from_file_location("_maxentrl_grader", {grade_py!r})
_maxentrl_grader = _maxentrl_grader_util.module_from_spec(_maxentrl_grader_spec)
_maxentrl_grader_sys.modules["_maxentrl_grader"] = _maxentrl_grader
_maxentrl_grader_spec.loader.exec_module(_maxentrl_grader)
_maxentrl_grader.run_checks_in_kernel(globals(), {token!r}, {log!r}, {package_dir!r}, {exercises!r}, {time_limit!r})
"""


# --------------------------------------------------------------------------
# Running one notebook
# --------------------------------------------------------------------------

def _chapter_of(nb: Any) -> str | None:
    """The chapter a notebook is, from its metadata (generated notebooks) or the checks its code calls."""
    if not isinstance(nb, dict):
        return None
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    source = str((metadata.get("maxentrl") or {}).get("source", "")) if isinstance(metadata.get("maxentrl"), dict) else ""
    for e in EXERCISES:
        if e.chapter in source:
            return e.chapter
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    code = "\n".join(str(c.get("source", "")) for c in cells if isinstance(c, dict) and c.get("cell_type") == "code")
    for e in EXERCISES:
        if e.check in code or e.function in code:
            return e.chapter
    return None


def _exercises(chapter: str | None) -> list[Exercise]:
    """The exercises of ``chapter`` (all of them when it is not known)."""
    return [e for e in EXERCISES if chapter is None or e.chapter == chapter]


def _notebook_client_class():
    import nbclient

    class _Client(nbclient.NotebookClient):
        """An nbclient that keeps at most ``_OUTPUT_LIMIT`` characters of output."""

        kept = 0
        dropped = False

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001 - nbclient's signature
            size = len(json.dumps(msg.get("content", {}), default=str))
            if self.kept + size > _OUTPUT_LIMIT:
                self.dropped = True
                return None
            self.kept += size
            return super().output(outs, msg, display_id, cell_index)

    return _Client


def _error_summary(cell: Any) -> str | None:
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            return f"{o.get('ename', 'Error')}: {o.get('evalue', '')}"[:200]
    return None


def _self_checks(records: list[dict[str, Any]]) -> dict[str, str]:
    """Last outcome of each check the notebook ran itself (records without a token)."""
    out: dict[str, str] = {}
    for r in records:
        if "token" not in r and isinstance(r.get("check"), str):
            out[r["check"]] = "passed" if r.get("passed") is True else "failed"
    return out


def _read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def grade_notebook(path: Path, workdir: Path, *, timeout: float, check_timeout: float,
                   chapter: str | None = None, default_chapter: str | None = None,
                   kernel_name: str = "python3") -> list[dict[str, str]]:
    """Rows (one per exercise) for the submission ``path``, executed in the scratch folder ``workdir``.

    ``chapter`` forces the chapter; otherwise it is the notebook's own, or
    ``default_chapter`` for a file that says nothing (an unreadable one, say).
    """
    import nbformat
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    student = path.stem

    def rows(exercises: list[Exercise], outcome: str, detail: str, notebook: str,
             verdicts: dict[str, tuple[str, str]] | None = None, self_checks: dict[str, str] | None = None):
        out = []
        for e in exercises:
            o, d = (verdicts or {}).get(e.label, (outcome, detail))
            if o == "missing" and notebook.startswith("ran past"):  # the run never got to define it
                o, d = "timeout", f"the notebook {notebook.split(';')[0]}, before defining {e.function}"
            out.append({"student": student, "chapter": e.chapter, "exercise": e.label, "outcome": o, "detail": d,
                        "self_check": (self_checks or {}).get(e.check, "not run"), "notebook": notebook})
        return out

    unknown = _exercises(chapter or default_chapter)
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
    except UnicodeDecodeError:
        return rows(unknown, "error", "not a notebook: the file is not UTF-8 text", "not run")
    except ValueError as exc:
        return rows(unknown, "error", f"not a notebook: invalid JSON ({exc})", "not run")
    except OSError as exc:
        return rows(unknown, "error", f"the file cannot be read: {exc}", "not run")
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        return rows(unknown, "error", "not a notebook: its JSON has no list of cells", "not run")
    exercises = _exercises(chapter or _chapter_of(raw) or default_chapter)
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        return rows(exercises, "error", f"not a valid notebook: {str(exc).splitlines()[0][:200]}", "not run")
    log = workdir / "grade-log.jsonl"
    env = dict(os.environ, MAXENTRL_GRADE_LOG=str(log), MAXENTRL_PROGRESS="0", MPLBACKEND="Agg",
               MAXENTRL_STANDALONE_NOTEBOOK="1", TMPDIR=str(workdir), MPLCONFIGDIR=str(workdir / ".matplotlib"))
    client = _notebook_client_class()(nb, kernel_name=kernel_name, allow_errors=True, interrupt_on_timeout=False,
                                      timeout=max(1, int(timeout)), startup_timeout=120,
                                      resources={"metadata": {"path": str(workdir)}})
    token = secrets.token_hex(16)
    status, errors, checks = "ran", [], "not run"
    start = time.monotonic()
    check_cell = nbformat.v4.new_code_cell(_CHECK_CELL.format(
        grade_py=str(Path(__file__).resolve()), token=token, log=str(log), package_dir=str(_PACKAGE_DIR),
        exercises=[{"label": e.label, "function": e.function, "check_module": e.check_module, "check": e.check}
                   for e in exercises], time_limit=float(check_timeout)))
    try:
        with client.setup_kernel(env=env, cwd=str(workdir)):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    status = f"ran past its {timeout:g} s limit before cell {index + 1}"
                    break
                client.timeout = max(1, int(left))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    status = f"ran past its {timeout:g} s limit in cell {index + 1}"
                    run_sync(client.km.interrupt_kernel)()  # so that the checks can still run
                    break
                finally:
                    error = _error_summary(cell)
                    if error:
                        errors.append(f"cell {index + 1}: {error}")
                    cell.outputs = []  # nothing of the student's output is kept
            nb.cells.append(check_cell)
            client.timeout = max(1, int(check_timeout * len(exercises) + 30))
            try:
                client.execute_cell(check_cell, len(nb.cells) - 1)
                checks = _error_summary(check_cell) or "ran"
            except CellTimeoutError:
                checks = "timeout"  # the exercises left without a record time out below
    except DeadKernelError:
        status = "the kernel died" + (f" (after {errors[-1]})" if errors else "")
    except Exception as exc:  # a kernel that cannot start, a broken connection: a row, not a crash
        status = f"could not be run: {type(exc).__name__}: {str(exc)[:200]}"
    if client.dropped:
        status += f"; output beyond {_OUTPUT_LIMIT:,} characters was dropped"
    if errors:
        status += f"; {len(errors)} cell(s) raised errors, first in {errors[0]}"
    records = _read_log(log)
    verdicts = {r["exercise"]: (r.get("outcome", "error"), str(r.get("detail", ""))) for r in records
                if r.get("token") == token and r.get("outcome") in OUTCOMES}
    if status.startswith("the kernel died") or status.startswith("could not be run"):
        fallback = ("error", status.split(";")[0])
    elif checks == "timeout":
        fallback = ("timeout", "the checks ran past their limit")
    elif status.startswith("ran past"):
        fallback = ("timeout", f"the notebook {status.split(';')[0]}")
    else:
        fallback = ("error", f"the grader's check step did not report ({checks})")
    return rows(exercises, *fallback, status, verdicts, _self_checks(records))


# --------------------------------------------------------------------------
# The whole folder
# --------------------------------------------------------------------------

def _grade_one(args: tuple[str, str, float, float, str | None, str | None]) -> list[dict[str, str]]:
    path, workdir, timeout, check_timeout, chapter, default_chapter = args
    return grade_notebook(Path(path), Path(workdir), timeout=timeout, check_timeout=check_timeout, chapter=chapter,
                          default_chapter=default_chapter)


def _class_chapter(files: list[Path]) -> str | None:
    """The chapter of every readable notebook in ``files``, when they agree on one."""
    found = set()
    for f in files:
        try:
            found.add(_chapter_of(json.loads(f.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def grade(submissions: Path, *, timeout: float = 600, check_timeout: float = 60, chapter: str | None = None,
          jobs: int = 1, progress: bool = True) -> list[dict[str, str]]:
    """Rows for every ``*.ipynb`` in ``submissions`` (see the module docstring)."""
    files = sorted(p for p in submissions.iterdir() if p.suffix == ".ipynb" and p.is_file())
    default_chapter = chapter or _class_chapter(files)
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="maxentrl-grade-") as scratch:
        jobs_args = []
        for i, f in enumerate(files):  # copy everything before anything runs
            workdir = Path(scratch) / f"{i:04d}"
            workdir.mkdir()
            shutil.copyfile(f, workdir / f.name)
            jobs_args.append((str(workdir / f.name), str(workdir), timeout, check_timeout, chapter, default_chapter))
        if jobs > 1 and len(files) > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for f, result in zip(files, pool.map(_grade_one, jobs_args)):
                    rows.extend(result)
                    if progress:
                        _print_progress(f.stem, result)
        else:
            for f, job in zip(files, jobs_args):
                result = _grade_one(job)
                rows.extend(result)
                if progress:
                    _print_progress(f.stem, result)
    return rows


def _print_progress(student: str, result: list[dict[str, str]]) -> None:
    print(f"{student}: " + ", ".join(f"{r['exercise']} {r['outcome']}" for r in result), flush=True)


def write_csv(rows: list[dict[str, str]], out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    chapters = sorted({e.chapter for e in EXERCISES})
    p = _Parser(prog="python -m maxentrl.grade",
                description="Execute each submitted notebook and write a table of results per exercise.")
    p.add_argument("submissions", help="folder of submitted notebooks, one *.ipynb per student (named by file stem)")
    p.add_argument("--out", default="grades.csv", help="CSV file to write (default grades.csv)")
    p.add_argument("--timeout", default="600", help="seconds each notebook may run, its checks apart (default 600)")
    p.add_argument("--check-timeout", default="60", help="seconds each exercise's check may run (default 60)")
    p.add_argument("--chapter", default=None,
                   help=f"grade every notebook as this chapter ({', '.join(chapters)}); default: each notebook's own")
    p.add_argument("--jobs", default="1", help="notebooks run at the same time (default 1)")
    return p


def _positive(name: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not (x > 0 and x < float("inf")):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return x


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        submissions = Path(args.submissions)
        if not submissions.is_dir():
            raise ValueError(f"submissions folder not found: {submissions}")
        if not any(p.suffix == ".ipynb" and p.is_file() for p in submissions.iterdir()):
            raise ValueError(f"no .ipynb files in {submissions}")
        out = Path(args.out)
        if out.is_dir():
            raise ValueError(f"--out is a folder, not a file: {out}")
        if not out.parent.resolve().is_dir():
            raise ValueError(f"--out: folder {out.parent} does not exist")
        if not os.access(out.parent.resolve(), os.W_OK):
            raise ValueError(f"--out: cannot write in {out.parent}")
        timeout = _positive("--timeout", args.timeout)
        check_timeout = _positive("--check-timeout", args.check_timeout)
        chapters = {e.chapter for e in EXERCISES}
        if args.chapter is not None and args.chapter not in chapters:
            raise ValueError(f"--chapter must be one of {', '.join(sorted(chapters))}, got {args.chapter!r}")
        try:
            jobs = int(args.jobs)
        except ValueError:
            raise ValueError(f"--jobs must be a positive integer, got {args.jobs!r}") from None
        if jobs < 1:
            raise ValueError(f"--jobs must be a positive integer, got {args.jobs!r}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    skipped = sorted(p.name for p in submissions.iterdir() if p.is_file() and p.suffix != ".ipynb")
    if skipped:
        print(f"skipping {len(skipped)} file(s) that are not .ipynb: {', '.join(skipped[:5])}", file=sys.stderr)
    try:
        rows = grade(submissions, timeout=timeout, check_timeout=check_timeout, chapter=args.chapter, jobs=jobs)
    except KeyboardInterrupt:
        print("interrupted; no table written", file=sys.stderr)
        return 130
    write_csv(rows, out)
    counts = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES}
    print(f"{len(rows)} rows for {len({r['student'] for r in rows})} students written to {out}: "
          + ", ".join(f"{n} {o}" for o, n in counts.items() if n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
