"""Generate every chapter's Colab notebooks from its MyST source.

The chapter's ``book/chNN_*.md`` (a MyST markdown notebook) is the one source.
From it this script writes two notebooks, without outputs:

* ``book/chNN_*.ipynb``, the full chapter, which the book's Colab button opens;
* ``book/student/chNN_*.ipynb``, the student edition: every exercise solution
  removed, each coding exercise left as its starting point and its check cell.

Their markdown is plain CommonMark with math (see ``tools/myst_to_ipynb.py``):
directives rendered as block quotes, references and citations resolved to the
numbers the HTML shows, the book's LaTeX macros defined, and every
``{glue:text}`` number replaced by the value of an executed quick run. Their
first code cell (tag ``colab-setup``) makes the ``maxentrl`` package importable,
in Colab or in a plain Jupyter; it is written from ``repository.url`` in
``_config.yml``, the one place the address is set.

    python tools/sync_notebooks.py                  # execute every chapter, write its notebooks
    python tools/sync_notebooks.py --reuse-values   # text edits only: keep the glued values of the last run
    python tools/sync_notebooks.py --check          # change nothing; exit 1 when a notebook has drifted

The chapters run with ``MAXENTRL_PAGE=notebook``: a notebook's text is read
later, at another commit and on another machine, so the sentences that say
which run a figure shows name the notebook's own quick run and leave the page's
commit unknown, instead of quoting a time, a machine or a distance in commits
(see ``maxentrl.figures``). Every other glued value is a result of the seeded
quick run and repeats exactly. The glued values of the run are stored in each
notebook's metadata
(``maxentrl.glue``), so ``--check`` (and the test suite) can regenerate the
notebooks without executing anything; ``tests/test_notebooks.py``, which
executes each chapter anyway, checks that a fresh run still gives the text the
notebooks carry.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

# The chapters' kernels start from this process's environment: torch's AVX2 kernels, as the Makefile pins them.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
STUDENT = BOOK / "student"
SETUP_TAG = "colab-setup"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import myst_to_ipynb  # noqa: E402

SETUP_TEMPLATE = '''\
# Set-up: make the book's package `maxentrl` importable, here or in Colab.
# In Colab it clones the book's repository and installs it; in a local Jupyter
# it uses the clone this notebook sits in, or clones one next to it. If a step
# fails, its own error output is printed; running the cell again retries it.
import importlib, os, shutil, subprocess, sys
from pathlib import Path


def _maxentrl_setup(url="__URL__", branch="__BRANCH__"):
    os.environ["MAXENTRL_STANDALONE_NOTEBOOK"] = "1"  # glued figures show under the cell that draws them

    def run(command, what):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"$ {' '.join(command)}\\n{done.stdout or ''}{done.stderr or ''}", file=sys.stderr)
            raise RuntimeError(f"{what} failed (exit status {done.returncode}); its output is printed above. "
                               "Run this cell again to retry.")

    def is_clone(path):
        return (path / "_config.yml").is_file() and (path / "code" / "maxentrl" / "__init__.py").is_file()

    def clone(dest):
        if dest.exists() and not is_clone(dest):
            shutil.rmtree(dest)  # left over from an interrupted clone: start again
        if not dest.exists():
            run(["git", "clone", "--depth", "1", "--branch", branch, url, str(dest)], f"cloning {url}")
        return dest

    if "google.colab" in sys.modules:
        repo = clone(Path("/content/maxentrl-book"))
        installed = repo / ".maxentrl-installed"  # written only once pip has succeeded
        if not installed.exists():
            run([sys.executable, "-m", "pip", "install", "--quiet", str(repo)], "installing the book's package")
            installed.touch()
        os.chdir(repo / "book")  # the chapters run from book/, as in the book's own build
    elif importlib.util.find_spec("maxentrl") is not None:
        return  # already installed (the book's .venv, or pip install -e .)
    else:
        here = Path.cwd().resolve()
        repo = next((p for p in (here, *here.parents) if is_clone(p)), None) or clone(here / "maxentrl-book")
        missing = [m for m in __DEPENDENCIES__ if importlib.util.find_spec(m) is None]
        if missing:
            raise ModuleNotFoundError(
                f"the book's package needs {', '.join(missing)}, which this Python lacks. Install them "
                f"(`{sys.executable} -m pip install {' '.join(missing)}`; on a machine without an NVIDIA GPU, "
                "torch's CPU build comes from --index-url https://download.pytorch.org/whl/cpu) "
                "and run this cell again.")
    code = str(repo / "code")
    if code not in sys.path:
        sys.path.insert(0, code)
    importlib.invalidate_caches()


_maxentrl_setup()'''


def repository() -> tuple[str, str]:
    """(url, branch) from _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def dependencies() -> list[str]:
    """Import names of the package's runtime dependencies (pyproject.toml)."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].replace("-", "_") for d in project["dependencies"]]


def setup_source() -> str:
    url, branch = repository()
    return (SETUP_TEMPLATE.replace("__URL__", url).replace("__BRANCH__", branch)
            .replace("__DEPENDENCIES__", repr(tuple(dependencies()))))


def chapter_sources() -> list[Path]:
    """Every book/*.md that is a jupytext notebook."""
    return sorted(p for p in BOOK.glob("*.md") if p.read_text(encoding="utf-8").lstrip().startswith("---\njupytext:"))


def notebook_paths(md: Path) -> dict[str, Path]:
    return {"full": md.with_suffix(".ipynb"), "student": STUDENT / f"{md.stem}.ipynb"}


# --------------------------------------------------------------------------
# Glued values from an executed run
# --------------------------------------------------------------------------

_TEXT_MIMES = ("text/plain", "text/markdown", "text/latex")


def execute_glue(md: Path, *, timeout: int = 900) -> dict[str, dict[str, str]]:
    """Execute chapter ``md`` (quick presets, from book/, as the book build does) and return what it glued."""
    import jupytext
    import nbclient

    nb = jupytext.read(md)
    # sentences about runs are written for the notebook (maxentrl.figures.for_notebook), not for a page
    env = {"MAXENTRL_PROGRESS": "0", "MPLBACKEND": "Agg", "MAXENTRL_PAGE": "notebook"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(md.parent)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return glued_values(nb)


def glued_values(nb: Any) -> dict[str, dict[str, str]]:
    """``{key: {mime: text}}`` of the text forms of every value ``nb``'s executed cells glued (myst-nb's glue)."""
    out: dict[str, dict[str, str]] = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            record = (o.get("metadata") or {}).get("scrapbook")
            if not record:
                continue
            prefix = record.get("mime_prefix", "")
            data = {mime[len(prefix):]: value for mime, value in (o.get("data") or {}).items()}
            out[record["name"]] = {m: (v if isinstance(v, str) else "".join(v)) for m, v in data.items()
                                   if m in _TEXT_MIMES}
    return out


def stored_glue(md: Path) -> dict[str, dict[str, str]]:
    """The glued values the committed full notebook of ``md`` was generated with."""
    path = notebook_paths(md)["full"]
    if not path.exists():
        return {}
    nb = nbformat.read(path, as_version=4)
    return dict(nb.metadata.get("maxentrl", {}).get("glue", {}))


# --------------------------------------------------------------------------
# Generating
# --------------------------------------------------------------------------

def _preamble(md: Path, edition: str, number: int | None) -> list[str]:
    title = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["title"]
    chapter = f"chapter {number}" if number is not None else "a page"
    lines = [
        f"*This notebook is {chapter} of the book* {title}, *generated from its source "
        f"`book/{md.name}`.* Every number quoted in the text comes from the book's quick run on a CPU, "
        "which is seeded and repeats exactly; the code cells below recompute them (on a GPU the last digits "
        "can differ). Run the set-up cell first: it makes the book's package `maxentrl` importable.",
    ]
    if edition == "student":
        lines += ["", "**Student edition.** The exercises' solutions are left out. Each coding exercise "
                  "gives a starting point and a check cell: the check runs your function on its own cases "
                  "and says what fails, until your answer is right."]
    return lines


def build(md: Path, edition: str, glue: dict[str, dict[str, str]],
          *, book: myst_to_ipynb.Book | None = None) -> nbformat.NotebookNode:
    """The ``edition`` ("full" or "student") notebook of chapter ``md``, generated with the glued values ``glue``."""
    book = book or myst_to_ipynb.Book(ROOT, edition=edition)
    docname = md.relative_to(ROOT).with_suffix("").as_posix()
    log: list[tuple[str, str, str]] = []
    nb = myst_to_ipynb.convert_notebook(book, docname, glue, preamble=_preamble(md, edition, book.documents[docname].number),
                                        setup_cell=setup_source(), log=log)
    used = sorted({content.rsplit(":", 1)[0] if role == "glue:text" else content
                   for role, content, _ in log if role in ("glue:text", "glue", "glue:md")})
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["maxentrl"] = {"source": f"book/{md.name}", "edition": edition,
                               "glue": {k: glue[k] for k in used}}
    stable_cell_ids(nb)
    return nb


def stable_cell_ids(nb: nbformat.NotebookNode) -> None:
    """Give each cell an id derived from its content, so regenerating an unchanged chapter changes nothing."""
    seen: set[str] = set()
    for c in nb.cells:
        base = hashlib.sha1(f"{c.cell_type}\n{c.source}".encode()).hexdigest()[:10]
        cid, n = base, 1
        while cid in seen:
            cid, n = f"{base}-{n}", n + 1
        seen.add(cid)
        c["id"] = cid


def _serialize(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def write(md: Path, glue: dict[str, dict[str, str]]) -> list[Path]:
    written = []
    for edition, path in notebook_paths(md).items():
        nb = build(md, edition, glue)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_serialize(nb), encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------

def _describe(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", []))) for c in nb.cells]


def _first_difference(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> str:
    """Where the committed notebook ``a`` and the regenerated ``b`` first differ, in a few words."""
    da, db = _describe(a), _describe(b)
    for i, (x, y) in enumerate(zip(da, db)):
        if x != y:
            if x[:2] == y[:2]:
                return f"cell {i} ({x[0]}) has tags {list(x[2])} instead of {list(y[2])}"
            k = next((j for j, (p, q) in enumerate(zip(x[1], y[1])) if p != q), min(len(x[1]), len(y[1])))
            return (f"cell {i} ({x[0]}) reads {x[1][max(0, k - 30):k + 50]!r} "
                    f"where the source gives {y[1][max(0, k - 30):k + 50]!r}")
    return f"{len(da)} cells against {len(db)}"


ROUNDING_LEVEL = 1e-12
"""Glued numbers below this size in both runs are float64 rounding errors (errors of exact identities):
their last bits depend on the order of sums, which the number of threads and the process can change, so
the freshness check does not ask two runs to agree on them."""


def _number(values: dict[str, str]) -> float | None:
    try:
        return float(values.get("text/plain", "").strip().strip("'\""))
    except ValueError:
        return None


def _keep_rounding_noise(fresh: dict[str, dict[str, str]], stored: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``fresh``, except that values both runs give at rounding level keep their stored text."""
    out = dict(fresh)
    for key, values in fresh.items():
        a, b = _number(values), _number(stored.get(key, {}))
        if a is not None and b is not None and abs(a) < ROUNDING_LEVEL and abs(b) < ROUNDING_LEVEL:
            out[key] = stored[key]
    return out


def problems(md: Path, glue: dict[str, dict[str, str]] | None = None) -> list[str]:
    """What is out of step between ``md`` and its committed notebooks (empty when in sync).

    With ``glue`` (values from a fresh run) the notebooks are regenerated with
    those values, so the check covers the quoted numbers too; without it, with
    the values stored in the committed notebook (text and code only).
    """
    out = []
    values = _keep_rounding_noise(glue, stored_glue(md)) if glue is not None else stored_glue(md)
    for edition, path in notebook_paths(md).items():
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if not path.exists():
            out.append(f"{rel} is missing (run `make sync`)")
            continue
        committed = nbformat.read(path, as_version=4)
        if any(c.get("outputs") or c.get("execution_count") for c in committed.cells if c.cell_type == "code"):
            out.append(f"{rel} has outputs (it is generated without them: run `make sync`)")
        try:
            fresh = build(md, edition, values)
        except myst_to_ipynb.ConversionError as exc:
            out.append(f"{rel}: cannot be regenerated from {md.name}: {exc} (run `make sync`)")
            continue
        if _describe(fresh) != _describe(committed):
            what = "the numbers of a fresh run" if glue is not None else md.name
            out.append(f"{rel} differs from {what} (run `make sync`): {_first_difference(committed, fresh)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter sources (default: every book/ch*.md)")
    parser.add_argument("--check", action="store_true", help="report drift, change nothing")
    parser.add_argument("--reuse-values", action="store_true",
                        help="do not execute: reuse the glued values stored in the committed notebooks")
    args = parser.parse_args(argv)
    chapters = [Path(c).resolve() for c in args.chapters] or chapter_sources()
    if args.check:
        found = [p for md in chapters for p in problems(md)]
        for p in found:
            print(p, file=sys.stderr)
        return 1 if found else 0
    for md in chapters:
        if args.reuse_values:
            glue = stored_glue(md)
        else:
            print(f"executing {md.relative_to(ROOT)} (quick presets) ...", flush=True)
            glue = execute_glue(md)
        try:
            paths = write(md, glue)
        except myst_to_ipynb.ConversionError as exc:
            print(f"{md.relative_to(ROOT)}: {exc}", file=sys.stderr)
            return 1
        print(f"  wrote {', '.join(str(p.relative_to(ROOT)) for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
