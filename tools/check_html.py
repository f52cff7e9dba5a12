"""Check the built HTML book for what a reader should never see.

``python tools/check_html.py [BUILD_DIR]`` (default ``_build/html``) reads
every page of the built book and exits 1, listing each problem, when a page
shows any of:

stderr
    an output block of a cell's standard error stream;
traceback
    an error output or the text of a Python traceback;
warning
    a warning class (``UserWarning``, ``TqdmWarning``, …) or ``WARNING`` in
    a cell's output, in a glued value or in a figure caption;
machine-path
    a path of the machine that built the book (a home, root, temporary, work
    or Colab content folder, ``site-packages``; in outputs,
    glued values and captions also ``.venv``);
echo
    a plain-text value echoed by a cell (its last line an expression, or a
    ``glue(..., display=True)``); a cell tagged ``allow-repr`` may show one;
doubled-word
    the same word twice in a row in the prose ("Theorem Theorem 2.3", which a
    ``{prf:ref}`` typed after "Theorem" produces);
unresolved
    MyST syntax left in the text (``{glue:text}``, ``{prf:ref}``, ``{eq}``,
    …), a cross-reference rendered without its link (the build did not find
    its target), or a glued value that reads ``nan``, ``inf`` or ``None``;
bold-glue
    glued text on a page whose style sheets leave myst-nb's bold
    ``span.pasted-text`` in force;
figure
    an image that is not a numbered, captioned figure (a plot shown directly
    by a cell instead of through ``{glue:figure}``), or the caption of a
    full-preset result that does not say which commit it came from.

Code shown on the page (cell inputs, listings) is not checked for words and
paths; it is source, not output.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup, Tag

__all__ = ["Problem", "check_page", "check_build", "main"]

# Paths that reveal the machine a page was built on. Anywhere in the text.
MACHINE_PATH = re.compile(r"(?<![\w.])(/(?:root|home|tmp|work|content|Users)/|[A-Z]:\\Users\\)|site-packages")
# Also a virtual environment, in executed output (prose may tell a reader to make one).
OUTPUT_PATH = re.compile(MACHINE_PATH.pattern + r"|(?<![\w])\.venv\b")
WARNING = re.compile(r"\b[A-Z]\w*Warning\b|\bWARNING\b|warnings\.warn")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)")
# MyST roles and directives that should have been resolved by the build.
UNRESOLVED = re.compile(r"\{(glue|prf|eq|ref|numref|cite|doc|download|term|math|numref)(:[\w-]+)*\}`?|```\{")
BAD_GLUE = re.compile(r"^\s*[-+]?(nan|inf|None)\s*%?\s*$", re.IGNORECASE)
DOUBLED = re.compile(r"\b([A-Za-z]{2,})(?:\s+\1)+\b", re.IGNORECASE)
# Doubled words that can be correct English ("the proof shows that that step...").
DOUBLED_ALLOWED = {"that", "had"}
FULL_RUN = re.compile(r"\bfull[- ](preset|run)\b", re.IGNORECASE)
PASTED_NOT_BOLD = re.compile(
    r"span\.pasted-text\s*\{[^}]*font-weight\s*:\s*(inherit|normal|400)\b", re.IGNORECASE | re.DOTALL
)
# Where source code is shown; its words and paths are not checked.
CODE_SELECTOR = "pre, code, div.cell_input, div.cell_output, script, style, .math, math, mjx-container"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one page."""

    page: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.rule}: {self.detail}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _around(text: str, m: re.Match, width: int = 60) -> str:
    """``text`` near the match ``m``, for a problem's detail."""
    start, end = max(m.start() - width, 0), min(m.end() + width, len(text))
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _content(soup: BeautifulSoup) -> Tag:
    """The page's article (the theme's navigation and header excluded), or its body."""
    return soup.find("article") or soup.body or soup


def _prose_text(node: Tag, *, drop: str = "") -> str:
    """The visible text of ``node`` without code, math, cell inputs and outputs (and ``drop``)."""
    clone = BeautifulSoup(str(node), "html.parser")
    for code in clone.select(CODE_SELECTOR + (", " + drop if drop else "")):
        # a stand-in, so that the words on either side of a formula do not meet
        code.replace_with(" \u2026 ")
    return clone.get_text(" ")


def _cell_of(node: Tag) -> Tag | None:
    for parent in node.parents:
        if isinstance(parent, Tag) and "cell" in (parent.get("class") or []):
            return parent
    return None


def _last_input_line(cell: Tag | None) -> str:
    if cell is None:
        return ""
    source = cell.select_one("div.cell_input pre")
    if source is None:
        return ""
    lines = [ln for ln in source.get_text().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def check_page(html: str, *, page: str = "page", css: str = "") -> list[Problem]:
    """Every problem of one page; ``css`` is the text of the style sheets the page links."""
    soup = BeautifulSoup(html, "html.parser")
    main = _content(soup)
    problems: list[Problem] = []

    def add(rule: str, detail: str) -> None:
        problems.append(Problem(page, rule, _short(detail)))

    outputs = main.select("div.cell_output")
    pasted = main.select(".pasted-text, .pasted-inline")
    captions = main.select("figcaption")

    for node in main.select(".output.stderr, .stderr"):
        add("stderr", "a cell writes to standard error: " + node.get_text())
    for node in main.select(".output.traceback, .output.error"):
        add("traceback", "a cell output is an error: " + node.get_text())
    for node in outputs + pasted + captions:
        text = node.get_text(" ")
        if (m := TRACEBACK.search(text)) and not node.select(".output.traceback, .output.error"):
            add("traceback", _around(text, m))
        if (m := WARNING.search(text)) and not node.select(".stderr"):
            add("warning", f"{m.group(0)} in {_around(text, m)}")
        if m := OUTPUT_PATH.search(text):
            add("machine-path", f"{m.group(0)!r} in {_around(text, m)}")
    bare = _prose_text(main, drop=".pasted-text, .pasted-inline, figcaption")
    if m := MACHINE_PATH.search(bare):
        add("machine-path", f"{m.group(0)!r} in {_around(bare, m)}")

    for node in main.select(".output.text_plain"):
        cell = _cell_of(node)
        if cell is not None and "tag_allow-repr" in (cell.get("class") or []):
            continue
        last = _last_input_line(cell)
        why = f" (the cell ends with {last!r})" if last else ""
        add("echo", f"a cell echoes the value {node.get_text().strip()!r}{why}")

    prose = _prose_text(main)
    # reference lists hold names, where a repeated word is a person's name ("Tian Tian"), not a slip
    names_out = _prose_text(main, drop="div.citation, dl.citation, .bibliography")
    for m in DOUBLED.finditer(names_out):
        if m.group(1).lower() not in DOUBLED_ALLOWED:
            add("doubled-word", f"{' '.join(m.group(0).split())!r} in {_around(prose, m, 40)}")
    for m in UNRESOLVED.finditer(prose):
        add("unresolved", f"{m.group(0)!r} in {_around(prose, m, 40)}")
    for node in main.select(".xref"):
        if node.find_parent("a") is None:
            add("unresolved", f"a cross-reference that the build could not resolve: {node.get_text().strip()!r}")
    for node in pasted:
        if BAD_GLUE.match(node.get_text()):
            add("unresolved", f"a glued value reads {node.get_text().strip()!r}")

    if main.select("span.pasted-text") and not PASTED_NOT_BOLD.search(css):
        add("bold-glue", "glued text is set in myst-nb's bold: no linked style sheet sets span.pasted-text to normal weight")

    for img in main.find_all("img"):
        figure = img.find_parent("figure")
        number = figure.select_one("figcaption .caption-number") if figure is not None else None
        if number is None:
            where = "shown directly by a cell" if img.find_parent("div", class_="cell_output") else "not in a figure"
            add("figure", f"an image {where} has no figure number and caption ({img.get('src', '')[:60]})")
    for caption in captions:
        text = caption.get_text(" ")
        if FULL_RUN.search(text) and "commit" not in text.lower():
            add("figure", f"a caption shows a full-preset result without its commit: {text}")
    return problems


def _linked_css(html_path: Path, soup: BeautifulSoup) -> str:
    texts = []
    for link in soup.find_all("link", rel="stylesheet"):
        href = (link.get("href") or "").split("?")[0]
        if not href or "://" in href:
            continue
        path = (html_path.parent / href).resolve()
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


def pages(build_dir: Path) -> list[Path]:
    """The book's pages: every .html under ``build_dir`` but Sphinx's own search and index pages."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return sorted(
        p for p in build_dir.rglob("*.html")
        if p.name not in skip and not {"_static", "_sources", "_images"} & set(p.relative_to(build_dir).parts)
    )


def check_build(build_dir: Path) -> list[Problem]:
    """Every problem of every page under ``build_dir``."""
    build_dir = Path(build_dir)
    found = pages(build_dir)
    if not found:
        return [Problem(str(build_dir), "missing", "no HTML pages found; build the book first")]
    problems = []
    for path in found:
        html = path.read_text(encoding="utf-8")
        css = _linked_css(path, BeautifulSoup(html, "html.parser"))
        problems += check_page(html, page=str(path.relative_to(build_dir)), css=css)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default="_build/html", type=Path)
    args = parser.parse_args(argv)
    problems = check_build(args.build_dir)
    for problem in problems:
        print(problem)
    n = len(pages(args.build_dir))
    if problems:
        print(f"check_html: {len(problems)} problem(s) in the {n} pages of {args.build_dir}", file=sys.stderr)
        return 1
    print(f"check_html: {n} pages of {args.build_dir} are clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
