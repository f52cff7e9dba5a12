"""Chapter sources and their Colab notebooks stay in step; the set-up cell is the one template."""

from __future__ import annotations

import importlib.util
import sys
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

CHAPTERS = sync_notebooks.chapter_sources()


def test_every_notebook_page_is_in_the_toc_and_every_other_chapter_is_a_placeholder() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ROOT / f"{c['file']}.md" for part in toc["parts"] for c in part["chapters"]]
    assert sorted(f for f in files if f in CHAPTERS) == CHAPTERS, "a paired notebook is missing from the toc"
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
def test_pair_in_sync(md: Path) -> None:
    assert sync_notebooks.problems(md) == []


def test_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    md = CHAPTERS[0]
    copy = tmp_path / md.name
    copy.write_text(md.read_text())
    (tmp_path / md.with_suffix(".ipynb").name).write_text(md.with_suffix(".ipynb").read_text())
    assert sync_notebooks.problems(copy) == []
    nb = nbformat.read(copy.with_suffix(".ipynb"), as_version=4)
    nb.cells[-1].source += "\n# an edit made only in the notebook"
    nbformat.write(nb, copy.with_suffix(".ipynb"))
    assert any("differs" in p for p in sync_notebooks.problems(copy))


def test_setup_cell_uses_the_configured_repository() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url in sync_notebooks.setup_source()
    for md in CHAPTERS:
        first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
        assert url in first.source


def test_setup_cell_is_a_no_op_outside_colab() -> None:
    namespace: dict = {}
    exec(sync_notebooks.setup_source(), namespace)  # must not install anything here
    assert "google.colab" not in sys.modules


def _student_edition():
    spec2 = importlib.util.spec_from_file_location("student_edition", ROOT / "tools" / "student_edition.py")
    mod = importlib.util.module_from_spec(spec2)
    spec2.loader.exec_module(mod)
    return mod


def test_student_config_hides_solutions() -> None:
    cfg = _student_edition().student_config()
    assert cfg["sphinx"]["config"]["hide_solutions"] is True
    base = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert base["sphinx"]["config"]["hide_solutions"] is False


def test_student_edition_removes_gated_solutions_and_keeps_the_rest() -> None:
    text = """Exercise text.

```{code-cell} ipython3
check(my_answer)
```

```{solution-start} ex-1
:class: dropdown
```

The answer, with code:

```{code-cell} ipython3
def my_answer(): ...
```

```{solution-end}
```

After.
"""
    stripped = _student_edition().strip_gated_solutions(text)
    assert "The answer" not in stripped and "def my_answer" not in stripped and "solution" not in stripped
    assert "check(my_answer)" in stripped and stripped.rstrip().endswith("After.")
    for md in CHAPTERS:  # every chapter's solutions come out, and its exercises stay
        out = _student_edition().strip_gated_solutions(md.read_text())
        assert "{solution-start}" not in out and "{solution-end}" not in out
        assert out.count("{exercise}") == md.read_text().count("{exercise}")


def test_setup_cell_in_colab_clones_installs_and_moves_to_book(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os
    import subprocess
    import types

    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    repo = tmp_path / "clone"
    (repo / "book").mkdir(parents=True)  # what the clone would have made
    source = sync_notebooks.setup_source().replace("/content/maxentrl-book", str(repo))
    monkeypatch.setattr(os.path, "isdir", lambda p: False)  # pretend nothing is cloned yet
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(source, {})
    url, branch = sync_notebooks.repository()
    assert calls[0][:2] == ["git", "clone"] and url in calls[0] and branch in calls[0]
    assert calls[1][1:4] == ["-m", "pip", "install"]
    assert sys.path[0] == str(repo / "code")
    assert Path.cwd() == repo / "book"
