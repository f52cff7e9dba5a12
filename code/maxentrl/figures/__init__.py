"""The book's figures, tables and result sentences, out of the chapters' way.

A chapter computes and explains; the plumbing that turns a result into a
figure, a table or a sentence about where a number came from lives here, one
module per chapter (:mod:`maxentrl.figures.ch01`, …) and one for the
benchmarks appendix (:mod:`maxentrl.figures.benchmarks`). Every figure
function returns a ``matplotlib.figure.Figure`` and leaves showing it to the
caller (the chapters glue it into a numbered, captioned ``{glue:figure}``).

This module holds what they share: the plot style, and :func:`describe_run`,
the sentence that says which run a figure shows — the quick run made while
the page was built, or a committed full-preset result with its device, its
commit and how that commit relates to the one the page was built from.

The sentences are written for the HTML page being built, unless the
environment variable ``MAXENTRL_PAGE`` is ``notebook``: ``tools/sync_notebooks.py``
sets it when it runs a chapter to write the chapter's Colab notebook, whose text
is read later, at another commit and on another machine. There the quick run
is the one the notebook's own cells make (not a time on the machine that wrote
it), and the page's commit is unknown (not a distance in commits that the next
commit would make wrong).
"""

from __future__ import annotations

import re

import dataclasses
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from maxentrl.provenance import git_commit

__all__ = ["STYLE", "CommitStatus", "commit_status", "describe_provenance", "describe_run", "new_figure", "short_commit"]

STYLE: dict[str, Any] = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3}
"""matplotlib settings every figure of the book uses."""

def new_figure(*args: Any, **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots(*args, **kwargs)`` in the book's style (the style applies to the axes made here)."""
    with plt.rc_context(STYLE):
        return plt.subplots(*args, **kwargs)


_PACKAGE = Path(__file__).resolve().parents[1]  # code/maxentrl
# Parts of the package that present results but do not compute them.
_PRESENTATION = ("figures", "notebook.py", "checks*.py")


def short_commit(commit: str) -> str:
    """The first 10 hex digits of a commit, keeping a ``+dirty`` mark."""
    sha, dirty, _ = commit.partition("+dirty")
    return sha[:10] + ("+dirty" if dirty else "")


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None


@dataclasses.dataclass(frozen=True)
class CommitStatus:
    """How the commit of a stored result relates to the checkout a page is built from.

    Attributes:
        result: the result's commit (as recorded, possibly ``+dirty``).
        page: the checkout's commit (possibly ``+dirty``), or ``unknown``.
        same: both name the same commit.
        behind: how many commits the result's commit precedes the page's
            (``None`` when it is not an ancestor or git cannot tell).
        code_changed: whether the package's computing code differs between the
            result's commit and the checkout, uncommitted edits included
            (``None``: unknown). Modules that only present results (figures,
            notebook helpers, exercise checks) do not count.
    """

    result: str
    page: str
    same: bool
    behind: int | None
    code_changed: bool | None

    def short(self) -> str:
        """A few words for a caption: how old the result's commit is, seen from this page."""
        if self.page == "unknown":
            return "the commit of this page is not known"
        if self.same:
            return "this page's commit"
        if self.behind is None:
            return "not in the history of this page's commit"
        return f"{self.behind} commit{'s' if self.behind != 1 else ''} before this page's"

    def sentence(self) -> str:
        """One clause for a caption or a paragraph."""
        dirty = " in a checkout with uncommitted changes" if self.result.endswith("+dirty") else ""
        if self.page == "unknown":
            return f"made at commit {short_commit(self.result)}{dirty}; the commit of this page is not known"
        if self.same:
            return f"made at the commit this page was built from{dirty}"
        if self.behind is None:
            return (f"made at commit {short_commit(self.result)}{dirty}, which the history of this page's "
                    f"checkout ({short_commit(self.page)}) does not contain")
        where = (f"made at commit {short_commit(self.result)}{dirty}, {self.behind} "
                 f"commit{'s' if self.behind != 1 else ''} before the commit this page was built from "
                 f"({short_commit(self.page)})")
        if self.code_changed is None:
            return where
        if self.code_changed:
            return where + "; the package's code has changed since, so a new run could differ"
        return where + "; the package's code has not changed since"


def for_notebook() -> bool:
    """Whether the sentences are written into a generated notebook (``MAXENTRL_PAGE=notebook``), not a page."""
    return os.environ.get("MAXENTRL_PAGE", "") == "notebook"


def commit_status(result_commit: str, *, page_commit: str | None = None, code_dir: Path = _PACKAGE) -> CommitStatus:
    """Compare ``result_commit`` with ``page_commit`` (default: the checkout of ``code_dir``, read with git).

    ``code_dir`` is the package's source folder (``code/maxentrl`` of this checkout).
    """
    code_dir = Path(code_dir)
    page = page_commit if page_commit is not None else ("unknown" if for_notebook() else git_commit(code_dir))
    result_sha = result_commit.partition("+dirty")[0]
    page_sha = page.partition("+dirty")[0]
    if page == "unknown" or result_commit in ("", "unknown"):
        return CommitStatus(result_commit or "unknown", page, False, None, None)
    if result_sha == page_sha:
        return CommitStatus(result_commit, page, True, 0, False)
    behind = None
    code_changed = None
    is_ancestor = _git("merge-base", "--is-ancestor", result_sha, page_sha, cwd=code_dir)
    if is_ancestor is not None and is_ancestor.returncode == 0:
        count = _git("rev-list", "--count", f"{result_sha}..{page_sha}", cwd=code_dir)
        if count is not None and count.returncode == 0:
            behind = int(count.stdout.strip())
        # against the working tree, so that uncommitted edits of the code count too
        excluded = [f":(exclude,glob){(code_dir / name).as_posix()}" for name in _PRESENTATION]
        diff = _git("diff", "--quiet", result_sha, "--", str(code_dir), *excluded, cwd=code_dir)
        if diff is not None and diff.returncode in (0, 1):
            code_changed = diff.returncode == 1
    return CommitStatus(result_commit, page, False, behind, code_changed)


def device_label(provenance: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> str:
    """The device a provenance record names, as the pages show it ("1 threads", as files written before the
    singular was fixed say, is shown as "1 thread").

    ``config`` is the run's config: a CPU run whose ``cpu_threads`` is set ran
    on that many threads, and that count is shown. (Until the harness named
    the device while the run's thread count was in force, a record gave the
    count of the process around the run instead.)
    """
    device = str(provenance.get("device_name") or provenance.get("device") or "an unrecorded device")
    threads = int((config or {}).get("cpu_threads") or 0)
    if threads > 0 and str(provenance.get("device", "cpu")).startswith("cpu"):
        device = re.sub(r", \d+ threads?\)$", f", {threads} threads)", device)
    return re.sub(r"\b1 threads\)", "1 thread)", device)


def describe_provenance(provenance: Mapping[str, Any], *, page_commit: str | None = None,
                        config: Mapping[str, Any] | None = None) -> str:
    """``device, commit …, date`` and the commit's relation to this page, from a provenance record (and the run's
    ``config``, for :func:`device_label`)."""
    device = device_label(provenance, config)
    commit = str(provenance.get("git_commit") or "unknown")
    date = str(provenance.get("date_utc", ""))[:10]
    status = commit_status(commit, page_commit=page_commit)
    when = f" on {date}" if date else ""
    return f"run on {device}{when}, {status.sentence()}"


def describe_run(result: Any, *, page_commit: str | None = None, short: bool = False) -> str:
    """Which run ``result`` (a :class:`maxentrl.experiments.RunResult`, or ``None``) is, in words.

    A quick-preset result is the one computed while the page was built; any
    other is a stored result, described with its device, date and commit and
    how that commit relates to this page's. ``short=True`` gives the few words
    a figure caption needs (preset, device, commit and its age).
    """
    if result is None:
        return "no full-preset result is committed in this checkout"
    if short:
        prov = result.provenance
        device = device_label(prov, result.config)
        if result.preset == "quick":
            return "quick preset, run by this notebook's cells" if for_notebook() else f"quick preset, run for this page on {device}"
        commit = str(prov.get("git_commit") or "unknown")
        status = commit_status(commit, page_commit=page_commit)
        return f"{result.preset} preset, {device}, commit {short_commit(commit)} ({status.short()})"
    prov = result.provenance
    wall = prov.get("wall_time_s")
    took = f"{wall:,.0f} s" if isinstance(wall, (int, float)) and wall >= 10 else (
        f"{wall:.1f} s" if isinstance(wall, (int, float)) else "an unrecorded time")
    processes = str(prov.get("command", "")).count("--merge")  # a run split by stages and joined
    if processes > 1 and isinstance(wall, (int, float)):
        took += f" summed over the {processes} processes it was split into"
    if result.preset == "quick":
        if for_notebook():
            return "the quick preset, which the cells of this notebook run"
        return f"the quick preset, run for this page ({took} on {device_label(prov, result.config)})"
    return (f"the committed {result.preset}-preset result "
            f"({took}, {describe_provenance(prov, page_commit=page_commit, config=result.config)})")
