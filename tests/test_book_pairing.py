"""Each chapter's Colab notebooks are generated from its source, read as plain markdown, and set themselves up.

``book/chNN_*.md`` is the one source; ``book/chNN_*.ipynb`` (full) and
``book/student/chNN_*.ipynb`` (no solutions) are generated from it by
``make sync`` and committed. These tests regenerate them (with the glued values
stored in the committed notebook, so without executing anything) and fail on
any difference; ``tests/test_notebooks.py`` checks the values against a fresh run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "tools" / "sync_notebooks.py")
sync_notebooks = importlib.util.module_from_spec(spec)
sys.modules["sync_notebooks"] = sync_notebooks
spec.loader.exec_module(sync_notebooks)

from test_myst_to_ipynb import leftover_myst  # noqa: E402

CHAPTERS = sync_notebooks.chapter_sources()
NOTEBOOKS = [(md, edition, path) for md in CHAPTERS for edition, path in sync_notebooks.notebook_paths(md).items()]
NOTEBOOK_IDS = [f"{md.stem}-{edition}" for md, edition, _ in NOTEBOOKS]


def test_every_notebook_page_is_in_the_toc_and_every_other_chapter_is_a_placeholder() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ROOT / f"{c['file']}.md" for part in toc["parts"] for c in part["chapters"]]
    assert sorted(f for f in files if f in CHAPTERS) == CHAPTERS, "a notebook page is missing from the toc"
    chapters = next(part for part in toc["parts"] if part["caption"] == "Chapters")
    assert chapters.get("numbered") is True, "the chapters are numbered, so that Sphinx numbers per chapter"
    pages = [ROOT / f"{c['file']}.md" for c in chapters["chapters"]]
    assert [p.name[:4] for p in pages] == [f"ch{n:02d}" for n in range(1, len(pages) + 1)], "chapter files in book order"
    for md in pages:
        if md not in CHAPTERS:  # a chapter in preparation holds its number with a placeholder page
            assert "In preparation" in md.read_text(), f"{md.name} is neither a notebook nor a placeholder"
    for md in CHAPTERS:
        title = next(line for line in md.read_text().splitlines() if line.startswith("# "))
        assert not title.startswith("# Chapter"), f"{md.name}: Sphinx numbers the chapters; the title carries no number"


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_committed_notebooks_are_generated_from_the_source(md: Path) -> None:
    assert sync_notebooks.problems(md) == []


def test_sources_are_not_paired_by_jupytext() -> None:
    # a jupytext pairing would overwrite the generated notebook with raw MyST when the .md is saved in Jupyter
    for md in CHAPTERS:
        assert "formats:" not in md.read_text().split("---", 2)[1], md.name


def test_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    md = CHAPTERS[0]
    copies = {}
    for edition, path in sync_notebooks.notebook_paths(md).items():
        copies[edition] = tmp_path / edition / path.name
        copies[edition].parent.mkdir()
        copies[edition].write_text(path.read_text())
    monkeypatch.setattr(sync_notebooks, "notebook_paths", lambda _md: copies)
    assert sync_notebooks.problems(md) == []
    # an edit made in a notebook, in its text and in its code
    for edition, kind in (("full", "markdown"), ("student", "code")):
        nb = nbformat.read(copies[edition], as_version=4)
        cell = [c for c in nb.cells if c.cell_type == kind][-1]
        original = cell.source
        cell.source += "\n# an edit made only in the notebook"
        nbformat.write(nb, copies[edition])
        found = sync_notebooks.problems(md)
        assert len(found) == 1 and edition in found[0] and "differs" in found[0], found
        cell.source = original
        nbformat.write(nb, copies[edition])
    # a number a fresh run would quote differently
    glue = sync_notebooks.stored_glue(md)
    key = next(iter(glue))
    changed = dict(glue, **{key: {"text/plain": "12345.678"}})
    assert any("fresh run" in p for p in sync_notebooks.problems(md, glue=changed))
    # outputs are not committed
    nb = nbformat.read(copies["full"], as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").outputs = [nbformat.v4.new_output("stream", text="hi")]
    nbformat.write(nb, copies["full"])
    assert any("has outputs" in p for p in sync_notebooks.problems(md))


@pytest.mark.parametrize("md, edition, path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_generated_markdown_has_no_myst_left(md: Path, edition: str, path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            assert leftover_myst(cell.source) == [], (path.name, i, cell.source[:200])


@pytest.mark.parametrize("md, edition, path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_macros_numbers_and_quick_run_note(md: Path, edition: str, path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    macros = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    first = nb.cells[0].source.splitlines()[0]
    for name in macros:
        assert f"\\newcommand{{\\{name}}}" in first
    assert "quick run on a CPU" in nb.cells[1].source
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    n = md.read_text().count("{glue:text}")
    assert n > 0 and "{glue" not in text
    assert len(nb.metadata["maxentrl"]["glue"]) > 0
    if md.name.startswith("ch"):  # a chapter's title carries its number, as in the HTML
        assert re.search(r"^# \d+\. ", text, re.M)


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_student_notebooks_carry_no_solution(md: Path) -> None:
    full = nbformat.read(sync_notebooks.notebook_paths(md)["full"], as_version=4)
    student = nbformat.read(sync_notebooks.notebook_paths(md)["student"], as_version=4)
    solution_cells = [c for c in full.cells if "solution" in c.metadata.get("tags", [])]
    text = "\n".join(c.source for c in student.cells)
    assert "Solution to" not in text and "solution" not in json.dumps([c.metadata for c in student.cells])
    for cell in solution_cells:  # every solution code cell of the full notebook is absent
        if cell.cell_type == "code":
            assert cell.source not in text
    plain = re.findall(r"^(`{3,})\{solution\}[^\n]*\n(?::[^\n]*\n)*\n?(.*?)^\1", md.read_text(), re.M | re.S)
    for _, body in plain:
        sentence = next(line for line in body.splitlines() if len(line) > 30)
        assert sentence not in text
    exercises = md.read_text().count("{exercise}")
    assert sum(c.source.count("**Exercise ") for c in student.cells) == exercises


@pytest.mark.parametrize("md", [p for p in CHAPTERS if "(coding)" in p.read_text()],
                         ids=[p.stem for p in CHAPTERS if "(coding)" in p.read_text()])
def test_coding_exercises_are_stub_and_check_in_both_editions(md: Path) -> None:
    for edition in ("full", "student"):
        nb = nbformat.read(sync_notebooks.notebook_paths(md)[edition], as_version=4)
        stubs = [c for c in nb.cells if c.cell_type == "code" and re.search(r"^def my_\w+\(", c.source, re.M)
                 and "solution" not in c.metadata.get("tags", [])]
        assert stubs, (md.name, edition)
        for stub in stubs:
            assert re.search(r"^check_\w+\(my_\w+\)", stub.source, re.M)


# --------------------------------------------------------------------------
# The set-up cell
# --------------------------------------------------------------------------

def test_setup_cell_is_the_first_code_cell_of_every_notebook() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url in sync_notebooks.setup_source()
    for _, _, path in NOTEBOOKS:
        first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert first.source == sync_notebooks.setup_source() and first.metadata["tags"] == ["colab-setup"]
    for md in CHAPTERS:  # the sources do not carry it: the generator adds it
        assert "colab-setup" not in md.read_text()


class _FakeRun:
    """Stands in for subprocess.run: records commands, fails the ones asked to, and fakes a clone."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, command, **kwargs):
        self.calls.append(list(command))
        if any(word in command for word in self.fail):
            return subprocess.CompletedProcess(command, 1, stdout="Collecting torch>=99\n",
                                               stderr="ERROR: No matching distribution found for torch>=99\n")
        if command[:2] == ["git", "clone"]:
            _fake_clone(Path(command[-1]))
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="")


def _fake_clone(dest: Path) -> None:
    (dest / "code" / "maxentrl").mkdir(parents=True)
    (dest / "code" / "maxentrl" / "__init__.py").write_text("")
    (dest / "book").mkdir()
    (dest / "_config.yml").write_text("title: x\n")


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A place to run the set-up cell: its own cwd, sys.path and environment, maxentrl hidden."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("MAXENTRL_STANDALONE_NOTEBOOK", "0")  # the cell sets it; undone (removed) afterwards
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "maxentrl":  # found only where the cell put it (the real one is hidden)
            return next((object() for p in sys.path
                         if Path(p).is_relative_to(tmp_path) and (Path(p) / "maxentrl" / "__init__.py").exists()), None)
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    return tmp_path


def _run_cell(source: str, **replace: str) -> None:
    for old, new in replace.items():
        source = source.replace(old, new)
    exec(compile(source, "<colab-setup>", "exec"), {"__name__": "__main__"})


def test_setup_in_colab_clones_installs_and_moves_to_book(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeRun()
    monkeypatch.setattr(subprocess, "run", fake)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    repo = sandbox / "content" / "maxentrl-book"
    _run_cell(sync_notebooks.setup_source(), **{"/content/maxentrl-book": str(repo)})
    url, branch = sync_notebooks.repository()
    assert fake.calls[0][:2] == ["git", "clone"] and url in fake.calls[0] and branch in fake.calls[0]
    assert fake.calls[1][1:4] == ["-m", "pip", "install"] and fake.calls[1][-1] == str(repo)
    assert sys.path[0] == str(repo / "code") and Path.cwd() == repo / "book"
    assert os.environ["MAXENTRL_STANDALONE_NOTEBOOK"] == "1"
    fake.calls.clear()
    _run_cell(sync_notebooks.setup_source(), **{"/content/maxentrl-book": str(repo)})
    assert fake.calls == []  # done once: running the cell again changes nothing


def test_a_failed_install_shows_its_error_and_is_retried(sandbox: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    repo = sandbox / "content" / "maxentrl-book"
    failing = _FakeRun(fail=("pip",))
    monkeypatch.setattr(subprocess, "run", failing)
    with pytest.raises(RuntimeError, match="installing the book's package failed .* Run this cell again"):
        _run_cell(sync_notebooks.setup_source(), **{"/content/maxentrl-book": str(repo)})
    err = capsys.readouterr().err
    assert "ERROR: No matching distribution found for torch>=99" in err and "pip install" in err
    working = _FakeRun()
    monkeypatch.setattr(subprocess, "run", working)
    _run_cell(sync_notebooks.setup_source(), **{"/content/maxentrl-book": str(repo)})
    assert [c[1:4] for c in working.calls] == [["-m", "pip", "install"]]  # retried, without cloning again


def test_an_interrupted_clone_is_started_again(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    repo = sandbox / "content" / "maxentrl-book"
    (repo / "book").mkdir(parents=True)  # what a clone that died half way leaves
    fake = _FakeRun()
    monkeypatch.setattr(subprocess, "run", fake)
    _run_cell(sync_notebooks.setup_source(), **{"/content/maxentrl-book": str(repo)})
    assert fake.calls[0][:2] == ["git", "clone"] and (repo / "code" / "maxentrl" / "__init__.py").exists()


def test_setup_in_jupyter_inside_a_clone_uses_it(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clone = sandbox / "my-clone"
    _fake_clone(clone)
    monkeypatch.chdir(clone / "book")  # a notebook opened from the clone's book/ folder
    fake = _FakeRun()
    monkeypatch.setattr(subprocess, "run", fake)
    _run_cell(sync_notebooks.setup_source())
    assert fake.calls == [] and sys.path[0] == str(clone / "code")
    assert importlib.util.find_spec("maxentrl") is not None


def test_setup_for_a_lone_notebook_clones_next_to_it(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeRun()
    monkeypatch.setattr(subprocess, "run", fake)
    _run_cell(sync_notebooks.setup_source())
    assert fake.calls[0][:2] == ["git", "clone"] and fake.calls[0][-1] == str(sandbox / "maxentrl-book")
    assert len(fake.calls) == 1  # no pip install outside Colab
    assert sys.path[0] == str(sandbox / "maxentrl-book" / "code")
    assert Path.cwd() == sandbox  # the reader's folder is left alone


def test_setup_says_which_dependencies_are_missing(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_clone(sandbox / "maxentrl-book")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("maxentrl", "torch") else real(name, *a))
    monkeypatch.setattr(subprocess, "run", _FakeRun())
    with pytest.raises(ModuleNotFoundError, match=r"needs torch.*pip install torch.*run this cell again"):
        _run_cell(sync_notebooks.setup_source())


def test_setup_does_nothing_where_the_package_is_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAXENTRL_STANDALONE_NOTEBOOK", "0")  # the cell sets it; undone (removed) afterwards
    monkeypatch.setattr(subprocess, "run", _FakeRun(fail=("git", "pip")))
    path = list(sys.path)
    _run_cell(sync_notebooks.setup_source())  # maxentrl is installed here: no clone, no install
    assert sys.path == path and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# The student edition's sources
# --------------------------------------------------------------------------

def _student_edition():
    spec2 = importlib.util.spec_from_file_location("student_edition", ROOT / "tools" / "student_edition.py")
    mod = importlib.util.module_from_spec(spec2)
    spec2.loader.exec_module(mod)
    return mod


def test_student_config_hides_solutions_and_points_colab_at_student_notebooks() -> None:
    cfg = _student_edition().student_config()
    assert cfg["sphinx"]["config"]["hide_solutions"] is True
    assert cfg["sphinx"]["config"]["colab_notebook_dir"] == "book/student"
    assert Path(cfg["sphinx"]["local_extensions"]["colab_notebooks"]).is_absolute()
    base = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert base["sphinx"]["config"]["hide_solutions"] is False
    assert base["sphinx"]["config"]["colab_notebook_dir"] == "book"


def test_student_sources_keep_exercises_and_lose_every_solution(tmp_path: Path) -> None:
    _student_edition().write_edition(tmp_path / "student")
    for md in CHAPTERS:
        out = (tmp_path / "student" / "book" / md.name).read_text()
        assert "{solution" not in out
        assert out.count("{exercise}") == md.read_text().count("{exercise}")
        assert jupytext.reads(out, fmt="md:myst").cells  # still a notebook
    for folder in ("code", "data", "_static"):
        assert (tmp_path / "student" / folder).resolve() == (ROOT / folder).resolve()
