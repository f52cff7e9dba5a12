"""Every notebook page of the book runs top to bottom (the quick presets), as the book build runs it."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbclient
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
# the chapters and the appendix: every book/*.md that is a jupytext notebook
# (placeholder pages of chapters in preparation are plain markdown)
CHAPTERS = sorted(p for p in BOOK.glob("*.md") if p.read_text(encoding="utf-8").lstrip().startswith("---\njupytext:"))


@pytest.mark.notebook
@pytest.mark.parametrize("source", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAXENTRL_PROGRESS", "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(source)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
