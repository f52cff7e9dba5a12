"""Keep every chapter's .md source and its Colab .ipynb in step.

The .md (MyST markdown notebook, jupytext) is what authors edit. This script
1. writes the Colab set-up cell (first code cell, tag ``colab-setup``) from the
   repository URL in _config.yml, the one place that URL is set;
2. writes the paired .ipynb from the .md, with no outputs.

``python tools/sync_notebooks.py --check`` changes nothing and exits 1 when a
pair has drifted; the test suite runs the same check.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SETUP_TAG = "colab-setup"

SETUP_TEMPLATE = '''\
# Colab set-up (does nothing elsewhere): fetch the book's repository (the
# chapters read its data/ folder), install the package's requirements, and
# work from its book/ folder as the local build does.
import os, subprocess, sys
if "google.colab" in sys.modules:
    repo = "/content/maxentrl-book"
    if not os.path.isdir(repo):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{branch}", "{url}", repo],
                       check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", repo], check=True, capture_output=True)
    sys.path.insert(0, os.path.join(repo, "code"))
    os.chdir(os.path.join(repo, "book"))'''


def repository() -> tuple[str, str]:
    """(url, branch) from _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_source() -> str:
    url, branch = repository()
    return SETUP_TEMPLATE.format(url=url, branch=branch)


def chapter_sources() -> list[Path]:
    """Every book/*.md that is a jupytext notebook."""
    return sorted(p for p in BOOK.glob("*.md") if p.read_text(encoding="utf-8").lstrip().startswith("---\njupytext:"))


def with_setup_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with its set-up cell (first code cell) rewritten from the template, or inserted."""
    cell = nbformat.v4.new_code_cell(setup_source(), metadata={"tags": ["remove-cell", SETUP_TAG]})
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            if SETUP_TAG in c.metadata.get("tags", []):
                nb.cells[i] = cell
            else:
                nb.cells.insert(i, cell)
            return nb
    nb.cells.append(cell)
    return nb


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def problems(md: Path) -> list[str]:
    """What is out of step between ``md`` and its .ipynb (empty when in sync)."""
    out = []
    nb_md = jupytext.read(md)
    code = [c for c in nb_md.cells if c.cell_type == "code"]
    if not code or code[0].source.strip() != setup_source().strip() or SETUP_TAG not in code[0].metadata.get("tags", []):
        out.append(f"{md.name}: first code cell is not the Colab set-up cell for {repository()[0]}")
    ipynb = md.with_suffix(".ipynb")
    if not ipynb.exists():
        return out + [f"{ipynb.name} is missing"]
    nb_ipynb = nbformat.read(ipynb, as_version=4)
    if _cells(nb_md) != _cells(nb_ipynb):
        out.append(f"{ipynb.name} differs from {md.name} (run `make sync`)")
    if any(c.get("outputs") or c.get("execution_count") for c in nb_ipynb.cells if c.cell_type == "code"):
        out.append(f"{ipynb.name} has outputs (commit it stripped)")
    return out


def stable_cell_ids(nb: nbformat.NotebookNode) -> None:
    """Give each cell an id derived from its content, so re-syncing an unchanged chapter changes nothing."""
    seen: set[str] = set()
    for c in nb.cells:
        base = hashlib.sha1(f"{c.cell_type}\n{c.source}".encode()).hexdigest()[:10]
        cid, n = base, 1
        while cid in seen:
            cid, n = f"{base}-{n}", n + 1
        seen.add(cid)
        c["id"] = cid


def sync(md: Path) -> None:
    """Rewrite ``md``'s set-up cell and regenerate its .ipynb."""
    nb = with_setup_cell(jupytext.read(md))
    jupytext.write(nb, md, fmt="md:myst")
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    stable_cell_ids(nb)
    jupytext.write(nb, md.with_suffix(".ipynb"), fmt="ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        found = [p for md in chapter_sources() for p in problems(md)]
        for p in found:
            print(p, file=sys.stderr)
        return 1 if found else 0
    for md in chapter_sources():
        sync(md)
        print(f"synced {md.relative_to(ROOT)} -> {md.with_suffix('.ipynb').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
