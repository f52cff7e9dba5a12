"""Every chapter runs top to bottom (quick presets) as the book build runs it, and its Colab notebooks quote
the numbers this run gives; a generated notebook also runs on its own, from outside the repository."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "tools" / "sync_notebooks.py")
sync_notebooks = importlib.util.module_from_spec(spec)
sys.modules.setdefault("sync_notebooks", sync_notebooks)
spec.loader.exec_module(sync_notebooks)
CHAPTERS = sync_notebooks.chapter_sources()  # every notebook page (placeholders are plain pages)


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.notebook
@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes_and_its_notebooks_quote_this_run(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAXENTRL_PROGRESS", "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("MAXENTRL_STANDALONE_NOTEBOOK", raising=False)  # as in the book build: glue records
    monkeypatch.setenv("MAXENTRL_PAGE", "notebook")  # as make sync runs it (see tools/sync_notebooks.py)
    nb = jupytext.read(source)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}})
    client.execute()
    assert not _errors(nb)
    # the numbers the Colab notebooks quote are those of this run (text and code are checked in test_book_pairing)
    assert sync_notebooks.problems(source, glue=sync_notebooks.glued_values(nb)) == []


@pytest.mark.notebook
def test_a_generated_notebook_runs_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The student notebook of chapter 1, copied out of the repository, runs top to bottom from there:
    its set-up cell finds the package, glued figures are shown, and the stub's check reports without raising."""
    monkeypatch.setenv("MAXENTRL_PROGRESS", "0")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # Jupyter's inline backend, as in Colab
    notebook = tmp_path / "downloaded.ipynb"
    chapter = next(p for p in CHAPTERS if p.name.startswith("ch01"))
    shutil.copy(sync_notebooks.notebook_paths(chapter)["student"], notebook)
    nb = nbformat.read(notebook, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not _errors(nb)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("FAIL" in o.get("text", "") for o in outputs)  # the starting point fails its check, as it should
    assert not any("papermill" in mime for o in outputs for mime in o.get("data", {}))  # no glue records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloaded.ipynb"]  # nothing cloned: the package is here
