"""Turn the book's MyST chapter sources into notebooks that read well outside Sphinx.

Colab (and any plain Jupyter) renders a notebook's markdown as CommonMark with
math; it knows nothing of MyST directives, roles, labels or glue. This module
rewrites a chapter into that dialect:

* sphinx-proof blocks, exercises and admonitions become block quotes headed by
  their numbered title ("**Theorem 2.3** (Soft Bellman equation)"); proofs end
  in ∎; solutions and drop-downs become ``<details>`` blocks; gated solutions
  (``solution-start`` ... ``solution-end``, which hold code cells) become a
  titled run of cells;
* labelled equations get ``\\tag{2.7}``; ``{math}`` blocks become ``$$``;
* ``figure`` and ``glue:figure`` become their numbered caption (a glued figure
  itself is the output of the code cell that draws it); ``literalinclude``
  becomes a fenced block holding the included code (``:pyobject:`` resolved
  by Sphinx's own reader, so the text is the text the HTML shows);
* references are resolved to the text the HTML shows: ``{eq}`` → "(2.7)",
  ``{prf:ref}`` → "Theorem 2.3", ``{numref}``, ``{ref}``, ``{doc}``, and
  ``{cite}`` → "[Haarnoja et al., 2017]" with a reference list at the end;
* ``{glue:text}`` is replaced by the value an executed run glued, formatted by
  myst-nb's own function; section headings carry their numbers.

Numbers are counted here, in document order, the way Sphinx counts them: the
toc's numbered part numbers the chapters, and within chapter N every counter
(each sphinx-proof type, exercises, equations, figures, tables, listings)
runs N.1, N.2, ... ``tests/test_myst_to_ipynb.py`` builds the HTML and checks
that every number and reference text here equals the one on the page.

Anything this module does not know raises :class:`ConversionError`, so a new
construct in a chapter fails ``make sync`` instead of leaking into Colab.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jupytext
import nbformat
import yaml

__all__ = ["Book", "ConversionError", "convert_notebook", "strip_solutions"]


class ConversionError(ValueError):
    """A construct of the MyST source that this converter cannot turn into plain markdown."""


# --------------------------------------------------------------------------
# Block parsing
# --------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[A-Za-z][\w:.-]*)\}\s*(?P<arg>.*)$")
_TARGET = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)(\s+#+)?\s*$")
_MATH_LABEL = re.compile(r"\$\$\s*\((?P<label>[^()\s]+)\)\s*$")
_AMS_BEGIN = re.compile(r"^\s*\\begin\{(?P<env>equation|multline|gather|align|alignat|flalign|eqnarray)(?P<star>\*?)\}")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*))?$")


@dataclass
class Block:
    """One block of a markdown cell."""

    kind: str  # text | blank | heading | target | fence | math | directive | comment
    lines: list[str] = field(default_factory=list)
    indent: str = ""
    level: int = 0  # heading level
    name: str = ""  # directive name
    arg: str = ""  # directive argument / fence info
    options: dict[str, str] = field(default_factory=dict)
    fence: str = ""
    label: str = ""  # target label, equation label, or directive :label:/:name:
    number: str | None = None  # assigned by the numbering pass
    children: list["Block"] | None = None  # parsed directive body

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing ``fence`` opened at ``start - 1`` (the end when unclosed)."""
    char, n = fence[0], len(fence)
    for j in range(start, len(lines)):
        s = lines[j].strip()
        if s and set(s) == {char} and len(s) >= n:
            return j
    raise ConversionError(f"fence {fence!r} opened at line {start} is never closed")


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """Directive options (``:key: value`` lines or a ``---`` YAML block) and the rest of the body."""
    options: dict[str, str] = {}
    i = 0
    if body and body[0].strip() == "---":
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if end is None:
            raise ConversionError("directive option block opened with --- is never closed")
        loaded = yaml.safe_load("\n".join(body[1:end])) or {}
        options = {str(k): "" if v is None else str(v) for k, v in loaded.items()}
        i = end + 1
    else:
        while i < len(body):
            m = _OPTION.match(body[i].strip()) if body[i].startswith(":") else None
            if not m:
                break
            options[m["key"]] = (m["value"] or "").strip()
            i += 1
    rest = body[i:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    while rest and not rest[-1].strip():
        rest = rest[:-1]
    return options, rest


def parse_blocks(text: str) -> list[Block]:
    """Split MyST markdown into blocks; directive bodies are parsed later, by :func:`parse_tree`."""
    lines = text.split("\n")
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Block("text", list(para)))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        if fence and (fence["fence"][0] != ":" or fence["info"].lstrip().startswith("{")):
            flush()
            close = _closing_fence(lines, i + 1, fence["fence"])
            body = [ln[len(fence["indent"]):] if ln.startswith(fence["indent"]) else ln.lstrip() for ln in lines[i + 1:close]]
            info = fence["info"].strip()
            directive = _DIRECTIVE_INFO.match(info)
            if directive:
                options, rest = _split_options(body)
                blocks.append(Block("directive", rest, indent=fence["indent"], name=directive["name"],
                                    arg=directive["arg"].strip(), options=options, fence=fence["fence"]))
            else:
                blocks.append(Block("fence", body, indent=fence["indent"], arg=info, fence=fence["fence"]))
            i = close + 1
            continue
        if stripped.startswith("$$") and not para:
            flush()
            indent = line[: len(line) - len(line.lstrip())]
            rest = stripped[2:]
            if "$$" in rest:  # one-line display math: $$ x $$ (label)
                j = i
            else:
                j = next((k for k in range(i + 1, len(lines)) if "$$" in lines[k]), None)
                if j is None:
                    raise ConversionError(f"$$ opened at line {i + 1} is never closed")
            chunk = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i:j + 1])
            m = _MATH_LABEL.search(chunk)
            label = m["label"] if m else ""
            if m:
                chunk = chunk[: m.start()] + "$$"
            inner = chunk.strip()[2:-2]
            if inner.rstrip().endswith("$$"):
                raise ConversionError(f"cannot parse the math block at line {i + 1}")
            body = inner.strip("\n").split("\n")
            if len(body) == 1:
                body = [body[0].strip()]
            blocks.append(Block("math", body, indent=indent, label=label))
            i = j + 1
            continue
        ams = _AMS_BEGIN.match(line)
        if ams and not para:
            flush()
            env = ams["env"] + ams["star"]
            end = next((k for k in range(i, len(lines)) if f"\\end{{{env}}}" in lines[k]), None)
            if end is None:
                raise ConversionError(f"\\begin{{{env}}} at line {i + 1} is never closed")
            indent = line[: len(line) - len(line.lstrip())]
            blocks.append(Block("math", [ln[len(indent):] for ln in lines[i:end + 1]], indent=indent, name="amsmath"))
            i = end + 1
            continue
        target = _TARGET.match(line)
        if target:
            flush()
            blocks.append(Block("target", label=target["label"]))
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading and not line.startswith(" "):
            flush()
            blocks.append(Block("heading", [heading["text"]], level=len(heading["hashes"])))
            i += 1
            continue
        if stripped.startswith("%") and not line.startswith(" "):  # a MyST comment line
            flush()
            blocks.append(Block("comment", [line]))
            i += 1
            continue
        if not stripped:
            flush()
            blocks.append(Block("blank"))
            i += 1
            continue
        para.append(line)
        i += 1
    flush()
    return blocks


#: Directives whose body is not markdown (kept or read verbatim).
_LITERAL_BODY = {"code-block", "code", "sourcecode", "math", "literalinclude", "raw", "csv-table", "list-table",
                 "glue:math", "bibliography"}


def parse_tree(text: str) -> list[Block]:
    """Blocks with every markdown directive body parsed into ``children``, recursively."""
    blocks = parse_blocks(text)
    for b in blocks:
        if b.kind == "directive" and b.name not in _LITERAL_BODY:
            b.children = parse_tree(b.text)
        if b.kind == "directive":
            b.label = b.options.get("label") or b.options.get("name") or ""
    return blocks


def walk(blocks: list[Block]):
    """Every block in document order (directive bodies included)."""
    for b in blocks:
        yield b
        if b.children:
            yield from walk(b.children)


# --------------------------------------------------------------------------
# Gated solutions and the student edition
# --------------------------------------------------------------------------

_GATED_START = re.compile(r"^(`{3,}|:{3,})\{(?P<kind>solution|exercise)-start\}")
_GATED_END = re.compile(r"^(`{3,}|:{3,})\{(?P<kind>solution|exercise)-end\}")
_PLAIN_SOLUTION = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}")


def _skip_directive(lines: list[str], i: int, fence: str) -> int:
    """Index just past the directive whose opening fence ``fence`` is on line ``i``."""
    char, n = fence[0], len(fence)
    for j in range(i + 1, len(lines)):
        s = lines[j].strip()
        if s and set(s) == {char} and len(s) >= n:
            return j + 1
    raise ConversionError(f"directive opened at line {i + 1} is never closed")


def strip_solutions(text: str) -> str:
    """``text`` without any exercise solution: gated regions (``solution-start`` ... ``solution-end``,
    which may hold code cells) and plain ``{solution}`` directives, fences included.

    This is the student edition's text, for its HTML and its notebooks alike.
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        start = _GATED_START.match(lines[i])
        if start and start["kind"] == "solution":
            j = i
            while j < len(lines) and not (_GATED_END.match(lines[j]) and _GATED_END.match(lines[j])["kind"] == "solution"):
                j += 1
            if j == len(lines):
                raise ConversionError(f"solution-start at line {i + 1} has no solution-end")
            i = _skip_directive(lines, j, _GATED_END.match(lines[j]).group(1))
            continue
        plain = _PLAIN_SOLUTION.match(lines[i])
        if plain:
            i = _skip_directive(lines, i, plain["fence"])
            continue
        out.append(lines[i])
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "".join(out))


# --------------------------------------------------------------------------
# The book: table of contents, numbering, labels, bibliography
# --------------------------------------------------------------------------

#: sphinx-proof's directive types (all numbered, except proof).
PROOF_TYPES = ("axiom", "theorem", "lemma", "algorithm", "definition", "remark", "conjecture", "corollary",
               "criterion", "example", "property", "observation", "proposition", "assumption", "notation")
_ADMONITIONS = ("note", "warning", "tip", "hint", "important", "caution", "attention", "danger", "error", "seealso")
_SPHINX_NUMFIG_FORMAT = {"figure": "Fig. %s", "table": "Table %s", "code-block": "Listing %s", "section": "Section %s"}


@dataclass
class Target:
    """What a label points at, and how the HTML names it."""

    kind: str  # section | equation | proof | exercise | solution | figure | table | code-block | anchor
    docname: str
    number: str | None = None
    title: str = ""  # section title, proof/exercise subtitle, or caption (MyST source)
    realtype: str = ""  # sphinx-proof type


@dataclass
class Document:
    docname: str
    path: Path
    number: int | None  # chapter number when in a numbered part of the toc
    cells: list[dict[str, Any]]  # {"cell_type", "source", "metadata", "blocks"?}
    title: str = ""


class Book:
    """The book's sources as Sphinx sees them: toc order, chapter numbers, every label, the bibliography.

    ``edition="student"`` reads every source with its solutions removed, as the
    student build does, so its numbers are those of the student HTML.
    """

    def __init__(self, root: Path, *, edition: str = "full") -> None:
        self.root = Path(root)
        self.edition = edition
        config = yaml.safe_load((self.root / "_config.yml").read_text(encoding="utf-8"))
        self.config = config
        sphinx_config = (config.get("sphinx") or {}).get("config") or {}
        self.numfig_format = dict(_SPHINX_NUMFIG_FORMAT, exercise="Exercise %s")
        self.numfig_format.update(sphinx_config.get("numfig_format") or {})
        self.eqref_format = sphinx_config.get("math_eqref_format", "({number})")
        self.countertype = dict({t: t for t in PROOF_TYPES}, **(sphinx_config.get("prf_realtyp_to_countertyp") or {}))
        self.macros = ((sphinx_config.get("mathjax3_config") or {}).get("tex") or {}).get("macros") or {}
        repo = config.get("repository") or {}
        self.repository_url = str(repo.get("url", "")).rstrip("/")
        self.branch = repo.get("branch", "main")
        self.path_to_book = str(repo.get("path_to_book", "") or "").strip("/")
        self.documents: dict[str, Document] = {}
        self.labels: dict[str, Target] = {}
        # Sphinx counts the numbered objects of unnumbered pages on together, in toc order
        self._unnumbered_counters: dict[str, int] = {}
        for docname, number in self._toc():
            doc = self._read(docname, number)
            self.documents[docname] = doc
            self._index(doc)
        self.bib = _Bibliography(self.root, config.get("bibtex_bibfiles") or [])

    # -- reading ------------------------------------------------------------
    def _toc(self) -> list[tuple[str, int | None]]:
        """(docname, chapter number or None) in toc order; numbering runs on across numbered parts."""
        toc = yaml.safe_load((self.root / "_toc.yml").read_text(encoding="utf-8"))
        out: list[tuple[str, int | None]] = [(toc["root"], None)]
        n = 0

        def visit(entries: list[dict], numbered: bool) -> None:
            nonlocal n
            for entry in entries:
                if "file" not in entry:
                    continue
                if numbered:
                    n += 1
                out.append((entry["file"], n if numbered else None))
                if entry.get("sections"):
                    raise ConversionError("nested toc sections are not supported by the notebook generator")

        for part in toc.get("parts", []):
            visit(part.get("chapters", []), bool(part.get("numbered")))
        visit(toc.get("chapters", []), bool(toc.get("defaults", {}).get("numbered")))
        return out

    def source_text(self, path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        return strip_solutions(text) if self.edition == "student" else text

    def _read(self, docname: str, number: int | None) -> Document:
        path = self.root / f"{docname}.md"
        if not path.exists():
            raise ConversionError(f"toc entry {docname!r} has no {docname}.md")
        text = self.source_text(path)
        if text.lstrip().startswith("---\njupytext:"):
            nb = jupytext.reads(text, fmt="md:myst")
            cells = [{"cell_type": c.cell_type, "source": c.source, "metadata": dict(c.metadata)} for c in nb.cells]
        else:
            cells = [{"cell_type": "markdown", "source": text, "metadata": {}}]
        for c in cells:
            if c["cell_type"] == "markdown":
                c["blocks"] = parse_tree(c["source"])
        return Document(docname, path, number, cells)

    # -- numbering ----------------------------------------------------------
    def _index(self, doc: Document) -> None:
        """Number ``doc``'s sections and enumerables in document order and record its labels."""
        counters: dict[str, int] = {} if doc.number is not None else self._unnumbered_counters
        sections: list[int] = []
        pending: list[str] = []  # (label)= targets waiting for the block they name
        prefix = f"{doc.number}." if doc.number is not None else ""

        def count(kind: str) -> str:
            counters[kind] = counters.get(kind, 0) + 1
            return f"{prefix}{counters[kind]}"

        def register(label: str, target: Target) -> None:
            if label in self.labels:
                raise ConversionError(f"label {label!r} is defined twice ({self.labels[label].docname}, {doc.docname})")
            self.labels[label] = target

        for cell in doc.cells:
            if cell["cell_type"] != "markdown":
                continue
            for b in walk(cell["blocks"]):
                if b.kind == "target":
                    pending.append(b.label)
                    continue
                if b.kind in ("blank", "comment"):
                    continue
                if b.kind == "heading":
                    if b.level > len(sections):
                        sections.extend([0] * (b.level - len(sections)))
                    del sections[b.level:]
                    sections[b.level - 1] += 1
                    if doc.number is not None:
                        b.number = ".".join(str(s) for s in [doc.number, *sections[1:]]) if b.level > 1 else str(doc.number)
                    if b.level == 1 and not doc.title:
                        doc.title = b.lines[0]
                    for label in pending:
                        register(label, Target("section", doc.docname, b.number, b.lines[0]))
                    pending.clear()
                    continue
                for label in pending:  # a target before something else: a plain anchor
                    register(label, Target("anchor", doc.docname))
                pending.clear()
                if b.kind == "math" and b.label:
                    b.number = count("displaymath")
                    register(b.label, Target("equation", doc.docname, b.number))
                elif b.kind == "directive":
                    self._index_directive(doc, b, count, register)

    def _index_directive(self, doc: Document, b: Block, count: Callable[[str], str], register) -> None:
        name = b.name
        if name.startswith("prf:") and name[4:] in PROOF_TYPES:
            realtype = name[4:]
            if "nonumber" not in b.options:
                b.number = count(self.countertype.get(realtype, realtype))
            if b.options.get("label"):
                register(b.options["label"], Target("proof", doc.docname, b.number, b.arg, realtype))
        elif name in ("exercise", "exercise-start"):
            if "nonumber" not in b.options:
                b.number = count("exercise")
            if b.options.get("label"):
                register(b.options["label"], Target("exercise", doc.docname, b.number, b.arg))
        elif name in ("solution", "solution-start"):
            if b.options.get("label"):
                register(b.options["label"], Target("solution", doc.docname))
        elif name == "math" and b.label:
            b.number = count("displaymath")
            register(b.label, Target("equation", doc.docname, b.number))
        elif name in ("figure", "glue:figure"):
            if b.label:
                b.number = count("figure")
                caption = _first_paragraph(b.children or [])
                register(b.label, Target("figure", doc.docname, b.number, caption))
        elif name in ("table", "list-table", "csv-table"):
            if b.label:
                b.number = count("table")
                register(b.label, Target("table", doc.docname, b.number, b.arg))
        elif name in ("code-block", "code", "sourcecode", "literalinclude"):
            if b.label and b.options.get("caption"):
                b.number = count("code-block")
                register(b.label, Target("code-block", doc.docname, b.number, b.options["caption"]))

    # -- resolving ------------------------------------------------------------
    def target(self, label: str, docname: str) -> Target:
        if label not in self.labels:
            raise ConversionError(f"{docname}: unknown label {label!r}")
        return self.labels[label]

    def docname_of(self, ref: str, docname: str) -> str:
        """The docname a ``{doc}`` target names, relative to ``docname`` or absolute (leading /)."""
        ref = ref.removesuffix(".md").removesuffix(".ipynb")
        if ref.startswith("/"):
            return ref.lstrip("/")
        base = Path(docname).parent
        parts: list[str] = []
        for part in (base / ref).parts:
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        return "/".join(parts)

    def raw_url(self, path: Path) -> str:
        """Where a repository file can be fetched from (for images and downloads)."""
        rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        repo = self.repository_url.replace("https://github.com/", "")
        return f"https://raw.githubusercontent.com/{repo}/{self.branch}/{rel}"

    def macro_line(self) -> str:
        """``$\\newcommand...$`` defining the book's MathJax macros (from _config.yml)."""
        defs = []
        for name, value in self.macros.items():
            if isinstance(value, list):
                body, nargs = value[0], int(value[1])
                defs.append(f"\\newcommand{{\\{name}}}[{nargs}]{{{body}}}")
            else:
                defs.append(f"\\newcommand{{\\{name}}}{{{value}}}")
        return "$" + "".join(defs) + "$" if defs else ""


def _first_paragraph(blocks: list[Block]) -> str:
    for b in blocks:
        if b.kind == "text":
            return " ".join(ln.strip() for ln in b.lines)
    return ""


# --------------------------------------------------------------------------
# Citations (sphinxcontrib-bibtex's own author-year style)
# --------------------------------------------------------------------------


class _Bibliography:
    """Author-year citation texts exactly as sphinxcontrib-bibtex renders them, and a reference list."""

    def __init__(self, root: Path, bibfiles: list[str]) -> None:
        import pybtex.database
        import pybtex.plugin

        self.entries = {}
        for f in bibfiles:
            data = pybtex.database.parse_file(str(root / f))
            self.entries.update(data.entries)
        style = pybtex.plugin.find_plugin("pybtex.style.formatting", "plain")()
        # the bibliography's order, which sphinxcontrib-bibtex also uses inside one citation
        self.formatted = {fe.key: fe for fe in style.format_entries(self.entries.values())}
        self.order = list(self.formatted)

    def cite(self, role: str, keys: list[str], docname: str) -> str:
        from sphinxcontrib.bibtex.style.referencing import format_references
        from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
        from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

        missing = [k for k in keys if k not in self.entries]
        if missing:
            raise ConversionError(f"{docname}: unknown citation key(s) {missing}")
        typ = role.split(":", 1)[1] if ":" in role else "p"
        style = AuthorYearReferenceStyle()
        if typ not in style.role_names():
            raise ConversionError(f"{docname}: unsupported citation role {{{role}}}")
        refs = [(self.entries[k], self.formatted[k], SphinxReferenceInfo(None, docname, "", k, None, "", ""))
                for k in self.order if k in keys]
        return _rich_to_markdown(format_references(style, typ, refs))

    def reference_list(self, keys: list[str]) -> list[str]:
        """One markdown list item per cited key, in the bibliography's order."""
        out = []
        for k in self.order:
            if k in keys:
                label = self.cite("cite:p", [k], "")
                out.append(f"- {label} {_rich_to_markdown(self.formatted[k].text).strip()}")
        return out


def _rich_to_markdown(text) -> str:
    """Render pybtex rich text (as produced by sphinxcontrib-bibtex's templates) to markdown."""
    from pybtex.richtext import BaseMultipartText, HRef, String, Symbol, Tag, Text

    if isinstance(text, Symbol):
        return {"newblock": " ", "nbsp": "\u00a0", "ndash": "–", "mdash": "—"}.get(text.name, " ")
    if isinstance(text, HRef):
        return f"[{''.join(_rich_to_markdown(p) for p in text.parts)}]({text.url})"
    if isinstance(text, str):
        return _escape(text)
    if isinstance(text, String):
        return _escape(text.value)
    if isinstance(text, Tag) and text.name in ("em", "i"):
        return "*" + "".join(_rich_to_markdown(p) for p in text.parts) + "*"
    if isinstance(text, Tag) and text.name in ("strong", "b"):
        return "**" + "".join(_rich_to_markdown(p) for p in text.parts) + "**"
    if isinstance(text, (BaseMultipartText, Text)):
        out, url_next = [], False
        for part in text.parts:
            if str(part).strip() == "\\url":  # a \url{...} of the .bib: "\url " then the address
                url_next = True
                continue
            out.append(f"<{part}>" if url_next else _rich_to_markdown(part))
            url_next = False
        return "".join(out)
    return _escape(str(text))


def _escape(s: str) -> str:
    """``s`` as literal markdown text (no emphasis, links, code or HTML)."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", s)


# --------------------------------------------------------------------------
# Inline roles
# --------------------------------------------------------------------------

_CODE_OR_ROLE = re.compile(r"(?:\{(?P<role>[A-Za-z][\w:.+-]*)\})?(?P<ticks>`+)")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


def _find_closing(text: str, ticks: str, start: int) -> int | None:
    n = len(ticks)
    i = start
    while True:
        j = text.find(ticks, i)
        if j < 0:
            return None
        k = j + n
        if (j == 0 or text[j - 1] != "`") and (k >= len(text) or text[k] != "`"):
            return j
        while k < len(text) and text[k] == "`":
            k += 1
        i = k


class _Renderer:
    """Renders one document of a :class:`Book` to CommonMark, collecting what it cites."""

    def __init__(self, book: Book, doc: Document, glue: dict[str, dict[str, str]] | None,
                 *, log: list[tuple[str, str, str]] | None = None) -> None:
        self.book = book
        self.doc = doc
        self.glue = glue
        self.cited: list[str] = []
        self.log = log if log is not None else []  # (role, target, rendered) for the test against the HTML

    # -- inline -------------------------------------------------------------
    def inline(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        while True:
            m = _CODE_OR_ROLE.search(text, pos)
            if not m:
                out.append(text[pos:])
                break
            out.append(text[pos:m.start()])
            close = _find_closing(text, m["ticks"], m.end())
            if close is None:  # a lone backtick: literal
                out.append(text[m.start():m.end()])
                pos = m.end()
                continue
            content = text[m.end():close]
            if m["role"]:
                rendered = self.role(m["role"], content.strip() if len(m["ticks"]) > 1 else content)
                self.log.append((m["role"], content, rendered))
                out.append(rendered)
            else:
                out.append(text[m.start():close + len(m["ticks"])])
            pos = close + len(m["ticks"])
        return "".join(out)

    def role(self, role: str, content: str) -> str:
        explicit = _EXPLICIT.match(content)
        text, target = (explicit["text"], explicit["target"]) if explicit else (None, content)
        book, doc = self.book, self.doc
        if role == "eq":
            t = book.target(target, doc.docname)
            if t.kind != "equation":
                raise ConversionError(f"{doc.docname}: {{eq}} to {target!r}, which is a {t.kind}")
            return book.eqref_format.format(number=t.number)
        if role == "prf:ref":
            if text is not None:
                return self.inline(text)
            t = book.target(target, doc.docname)
            if t.kind != "proof":
                raise ConversionError(f"{doc.docname}: {{prf:ref}} to {target!r}, which is a {t.kind}")
            return f"{t.realtype.title()} {t.number or ''}".rstrip()
        if role == "numref":
            t = book.target(target, doc.docname)
            kind = {"section": "section", "figure": "figure", "table": "table", "code-block": "code-block",
                    "exercise": "exercise"}.get(t.kind)
            if kind is None or t.number is None:
                raise ConversionError(f"{doc.docname}: {{numref}} to {target!r}, which has no number")
            if text is not None:
                return self.inline(text.replace("%s", t.number).replace("{number}", t.number)
                                   .replace("{name}", t.title))
            return book.numfig_format[kind] % t.number
        if role == "ref":
            if text is not None:
                return self.inline(text)
            t = book.target(target, doc.docname)
            if t.kind == "section":
                return self.inline(t.title)
            if t.kind in ("figure", "table", "code-block"):  # Sphinx shows the caption's plain text
                return _escape(self.plain_text(t.title))
            if t.kind == "exercise":
                return book.numfig_format["exercise"] % t.number if t.number else "Exercise"
            raise ConversionError(f"{doc.docname}: {{ref}} to {target!r} ({t.kind}) needs an explicit text")
        if role == "doc":
            if text is not None:
                return self.inline(text)
            name = book.docname_of(target, doc.docname)
            if name not in book.documents:
                raise ConversionError(f"{doc.docname}: {{doc}} to unknown document {target!r}")
            return self.inline(book.documents[name].title)
        if role == "cite" or role.startswith("cite:"):
            keys = [k.strip() for k in target.split(",") if k.strip()]
            self.cited.extend(k for k in keys if k not in self.cited)
            return book.bib.cite(role, keys, doc.docname)
        if role in ("glue:text", "glue", "glue:md"):
            return self.glue_text(role, content)
        if role == "math":
            return f"${content}$"
        if role in ("term", "abbr", "index", "guilabel", "menuselection", "kbd", "command", "file", "samp",
                    "program", "sub", "sup"):
            shown = re.sub(r"\s*\(.*\)$", "", text or target) if role == "abbr" else (text or target)
            if role == "sub":
                return f"<sub>{_escape(shown)}</sub>"
            if role == "sup":
                return f"<sup>{_escape(shown)}</sup>"
            if role in ("kbd", "command", "file", "samp", "program"):
                return f"`{shown}`"
            return _escape(shown)
        if role == "download":
            path = (doc.path.parent / target).resolve()
            return f"[{self.inline(text or Path(target).name)}]({book.raw_url(path)})"
        raise ConversionError(f"{doc.docname}: the role {{{role}}} has no plain-markdown form here")

    def plain_text(self, text: str) -> str:
        """``text`` as Sphinx's ``astext()`` shows a caption: a reference by its target, glue by its value."""
        def one(m: re.Match) -> str:
            role, content = m["role"], m["content"]
            explicit = _EXPLICIT.match(content)
            if role.startswith("glue"):
                return re.sub(r"\\(.)", r"\1", self.glue_text(role, content))
            return explicit["text"] if explicit else content
        return re.sub(r"\{(?P<role>[A-Za-z][\w:.+-]*)\}`(?P<content>[^`]*)`", one, text)

    def glue_text(self, role: str, content: str) -> str:
        if self.glue is None:
            raise ConversionError(f"{self.doc.docname}: glued values are needed (execute the chapter)")
        key, fmt = (content.rsplit(":", 1) + ["s"])[:2] if role == "glue:text" and ":" in content else (content, "s")
        if "::" in key:
            raise ConversionError(f"{self.doc.docname}: glue from another document ({content}) is not supported")
        if key not in self.glue:
            raise ConversionError(f"{self.doc.docname}: no value was glued under {key!r}")
        data = self.glue[key]
        if role == "glue:md":
            if "text/markdown" not in data:
                raise ConversionError(f"{self.doc.docname}: {key!r} has no text/markdown value")
            return data["text/markdown"]
        if "text/plain" not in data:
            raise ConversionError(f"{self.doc.docname}: {key!r} has no text/plain value")
        if role == "glue":
            return _escape(data["text/plain"])
        from myst_nb.core.variables import format_plain_text

        return _escape(format_plain_text(data["text/plain"], fmt))

    # -- blocks ---------------------------------------------------------------
    def blocks(self, blocks: list[Block], *, quoted: bool = False) -> list[str]:
        """Markdown lines for ``blocks``; ``quoted``: the lines will sit in a block quote."""
        out: list[str] = []
        for b in blocks:
            if b.kind == "blank":
                if out and out[-1] != "":
                    out.append("")
            elif b.kind in ("target", "comment"):
                continue
            elif b.kind == "heading":
                title = self.inline(b.lines[0])
                if b.number is not None:
                    title = f"{b.number}. {title}"
                out.append("#" * b.level + " " + title)
            elif b.kind == "text":
                out.extend(self.inline(b.text).split("\n"))
            elif b.kind == "fence":
                out.append(b.indent + b.fence + b.arg)
                out.extend(b.indent + ln if ln else "" for ln in b.lines)
                out.append(b.indent + b.fence[0] * len(b.fence))
            elif b.kind == "math":
                out.extend(self.math(b.lines, b.number, b.indent, quoted=quoted))
            elif b.kind == "directive":
                out.extend(self.directive(b, quoted=quoted))
            else:  # pragma: no cover - parse_blocks makes no other kind
                raise ConversionError(f"unknown block kind {b.kind}")
        while out and out[-1] == "":
            out.pop()
        return out

    def math(self, lines: list[str], number: str | None, indent: str = "", *, quoted: bool) -> list[str]:
        body = [ln for ln in lines]
        if number is not None:
            body = body + [f"\\tag{{{number}}}"]
        if quoted:
            # Jupyter and Colab lift math out of the markdown before parsing it, so the
            # "> " of a block quote would end up inside a multi-line equation: keep it on one line.
            flat = " ".join(_strip_tex_comment(ln).strip() for ln in body if ln.strip())
            return [f"{indent}$$ {flat} $$"]
        return [f"{indent}$$", *(indent + ln if ln else "" for ln in body), f"{indent}$$"]

    def quote(self, title: str, children: list[Block], *, end: str = "") -> list[str]:
        body = self.blocks(children, quoted=True)
        if end:
            if body and body[-1].strip() and not body[-1].lstrip().startswith(("$$", "```", "|", "-", "*", "1.")):
                body[-1] = body[-1] + " " + end
            else:
                body += ["", end]
        lines = [title, ""] + body if title else body
        return ["> " + ln if ln else ">" for ln in lines]

    def details(self, summary: str, children: list[Block], *, quoted: bool) -> list[str]:
        return ["<details>", f"<summary>{summary}</summary>", "", *self.blocks(children, quoted=quoted), "",
                "</details>"]

    def proof_title(self, b: Block) -> str:
        realtype = b.name[4:]
        head = f"**{realtype.title()} {b.number}**" if b.number else f"**{realtype.title()}**"
        return f"{head} ({self.inline(b.arg)})" if b.arg else head

    def exercise_title(self, b: Block) -> str:
        head = f"**{self.book.numfig_format['exercise'] % b.number}**" if b.number else "**Exercise**"
        return f"{head} ({self.inline(b.arg)})" if b.arg else head

    def solution_title(self, label: str) -> str:
        t = self.book.target(label, self.doc.docname)
        if t.kind != "exercise":
            raise ConversionError(f"{self.doc.docname}: a solution names {label!r}, which is not an exercise")
        name = self.book.numfig_format["exercise"] % t.number if t.number else "Exercise"
        title = f" ({self.inline(t.title)})" if t.title else ""
        return f"Solution to {name}{title}"

    def directive(self, b: Block, *, quoted: bool) -> list[str]:
        name = b.name
        if name.startswith("prf:"):
            kind = name[4:]
            if kind == "proof":
                head = "*Proof.*" + (f" ({b.arg})" if b.arg else "")
                children = list(b.children or [])
                if children and children[0].kind == "text":  # run the first paragraph on after "Proof."
                    children[0] = Block("text", [head + " " + children[0].lines[0], *children[0].lines[1:]])
                else:
                    children = [Block("text", [head]), Block("blank"), *children]
                return self.quote("", children, end="∎")
            if kind in PROOF_TYPES:
                return self.quote(self.proof_title(b), b.children or [])
        if name == "exercise":
            return self.quote(self.exercise_title(b), b.children or [])
        if name == "solution":
            summary = f"<b>{self.solution_title(b.arg)}</b>"
            return self.details(summary, b.children or [], quoted=quoted)
        if name in _ADMONITIONS or name == "admonition":
            title = b.arg if name == "admonition" else name.title().replace("Seealso", "See also")
            if "dropdown" in b.options.get("class", "").split():
                return self.details(f"<b>{self.inline(title)}</b>", b.children or [], quoted=quoted)
            return self.quote(f"**{self.inline(title)}**", b.children or [])
        if name == "dropdown":
            return self.details(f"<b>{self.inline(b.arg)}</b>" if b.arg else "<b>Details</b>", b.children or [],
                                quoted=quoted)
        if name in ("epigraph", "pull-quote", "highlights", "topic", "sidebar", "margin"):
            title = f"**{self.inline(b.arg)}**" if b.arg else ""
            return self.quote(title, b.children or [])
        if name == "rubric":
            return [f"**{self.inline(b.arg)}**"]
        if name == "math":
            return self.math(b.lines, b.number, quoted=quoted)
        if name == "glue:math":
            key = b.arg
            value = (self.glue or {}).get(key, {}).get("text/latex")
            if value is None:
                raise ConversionError(f"{self.doc.docname}: no text/latex value glued under {key!r}")
            return self.math([value.strip().strip("$")], b.number, quoted=quoted)
        if name in ("code-block", "code", "sourcecode"):
            lines = self.caption_lines(b) + ["```" + (b.arg or ""), *b.lines, "```"]
            return lines
        if name == "literalinclude":
            return self.caption_lines(b) + ["```" + b.options.get("language", "python"), *self.include(b), "```"]
        if name == "glue:figure":
            caption = self.inline(_first_paragraph(b.children or []))
            head = f"**{self.book.numfig_format['figure'] % b.number}**" if b.number else ""
            where = "*(the figure is the output of the code cell that draws it, above)*"
            return [" ".join(s for s in (head, where, caption) if s)]
        if name in ("figure", "image"):
            path = (self.doc.path.parent / b.arg).resolve()
            alt = b.options.get("alt", "")
            lines = [f"![{_escape(alt)}]({self.book.raw_url(path)})"]
            if name == "figure":
                caption = self.inline(_first_paragraph(b.children or []))
                head = f"**{self.book.numfig_format['figure'] % b.number}**" if b.number else ""
                if head or caption:
                    lines += ["", " ".join(s for s in (head, caption) if s)]
            return lines
        if name in ("glue", "glue:any"):
            data = (self.glue or {}).get(b.arg)
            if data is None:
                raise ConversionError(f"{self.doc.docname}: no value was glued under {b.arg!r}")
            if set(data) <= {"text/plain"}:
                return [_escape(data["text/plain"])]
            return ["*(shown as the output of the code cell that computes it, above)*"]
        if name == "table":
            head = f"**{self.book.numfig_format['table'] % b.number}**" if b.number else ""
            caption = " ".join(s for s in (head, self.inline(b.arg)) if s)
            return ([caption, ""] if caption else []) + self.blocks(b.children or [], quoted=quoted)
        if name == "list-table":
            return self.list_table(b)
        if name == "raw":
            if b.arg.strip() != "html":
                return []
            return b.lines
        if name in ("solution-start", "solution-end", "exercise-start", "exercise-end"):
            raise ConversionError(f"{self.doc.docname}: {{{name}}} must stand at the level of cells")
        raise ConversionError(f"{self.doc.docname}: the directive {{{name}}} has no plain-markdown form here")

    def caption_lines(self, b: Block) -> list[str]:
        caption = b.options.get("caption")
        if not caption:
            return []
        head = f"**{self.book.numfig_format['code-block'] % b.number}**" if b.number else ""
        return [" ".join(s for s in (head, self.inline(caption)) if s), ""]

    def include(self, b: Block) -> list[str]:
        from sphinx.directives.code import LiteralInclude, LiteralIncludeReader

        path = (self.doc.path.parent / b.arg).resolve()
        options: dict[str, Any] = {}
        for key, value in b.options.items():
            if key in ("caption", "name", "language", "linenos", "lineno-start", "emphasize-lines", "class", "force"):
                continue
            convert = LiteralInclude.option_spec.get(key)
            if convert is None:
                raise ConversionError(f"{self.doc.docname}: literalinclude option :{key}: is not supported")
            options[key] = convert(value if value else None)

        class _Config:
            source_encoding = "utf-8-sig"

        try:
            text, _ = LiteralIncludeReader(str(path), options, _Config()).read()
        except Exception as exc:
            raise ConversionError(f"{self.doc.docname}: literalinclude {b.arg}: {exc}") from exc
        return text.rstrip("\n").split("\n")

    def list_table(self, b: Block) -> list[str]:
        rows: list[list[str]] = []
        for line in b.lines:
            if re.match(r"^\*\s+-\s", line) or line.strip() == "*":
                rows.append([line.split("-", 1)[1].strip() if "-" in line else ""])
            elif re.match(r"^\s+-\s", line):
                rows[-1].append(line.strip()[1:].strip())
            elif line.strip() and rows:
                rows[-1][-1] += " " + line.strip()
        if not rows:
            raise ConversionError(f"{self.doc.docname}: empty list-table")
        header = int(b.options.get("header-rows", "0") or 0)
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        cells = [[self.inline(c).replace("|", "\\|") for c in r] for r in rows]
        head = cells[0] if header else [""] * width
        body = cells[1:] if header else cells
        lines = []
        title = " ".join(s for s in ((f"**{self.book.numfig_format['table'] % b.number}**" if b.number else ""),
                                     self.inline(b.arg)) if s)
        if title:
            lines += [title, ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| " + " | ".join("---" for _ in head) + " |")
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return lines


def _strip_tex_comment(line: str) -> str:
    m = re.search(r"(?<!\\)%", line)
    return line[: m.start()] if m else line


# --------------------------------------------------------------------------
# Whole notebooks
# --------------------------------------------------------------------------


@dataclass
class _Segment:
    """A piece of the converted notebook: markdown lines, or a code cell."""

    kind: str  # markdown | code
    lines: list[str] = field(default_factory=list)
    cell: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()


def convert_notebook(book: Book, docname: str, glue: dict[str, dict[str, str]] | None, *,
                     preamble: list[str] | None = None, setup_cell: str | None = None,
                     log: list[tuple[str, str, str]] | None = None) -> nbformat.NotebookNode:
    """The plain-markdown notebook of chapter ``docname`` (of ``book``'s edition).

    ``glue``: ``{key: {mime: text}}`` from an executed run; ``preamble``: a markdown
    note placed after the chapter's first markdown cell; ``setup_cell``: the
    source of the first code cell (tag ``colab-setup``).
    """
    doc = book.documents[docname]
    r = _Renderer(book, doc, glue, log=log)
    segments: list[_Segment] = []
    gated: Block | None = None  # the open solution-start / exercise-start directive

    def md(lines: list[str], tags: tuple[str, ...] = ()) -> None:
        lines = list(lines)
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            segments.append(_Segment("markdown", lines, tags=tags))

    for cell in doc.cells:
        tags = ("solution",) if gated is not None and gated.name == "solution-start" else ()
        if cell["cell_type"] == "code":
            segments.append(_Segment("code", cell=cell, tags=tags))
            continue
        if cell["cell_type"] != "markdown":
            continue
        pending: list[Block] = []
        for b in cell["blocks"]:
            if b.kind == "directive" and b.name in ("solution-start", "exercise-start"):
                md(r.blocks(pending), tags)
                pending = []
                if gated is not None:
                    raise ConversionError(f"{docname}: {{{b.name}}} inside another gated block")
                gated = b
                tags = ("solution",) if b.name == "solution-start" else ()
                if b.name == "solution-start":
                    pending = [Block("text", [f"**{r.solution_title(b.arg)}**"]), Block("blank")]
                else:
                    pending = [Block("text", [r.exercise_title(b)]), Block("blank")]
                continue
            if b.kind == "directive" and b.name in ("solution-end", "exercise-end"):
                if gated is None or gated.name.split("-")[0] != b.name.split("-")[0]:
                    raise ConversionError(f"{docname}: {{{b.name}}} without its start")
                if gated.name == "solution-start":
                    pending += [Block("blank"), Block("text", [f"*End of the {r.solution_title(gated.arg)[0].lower()}"
                                                               f"{r.solution_title(gated.arg)[1:]}.*"])]
                md(r.blocks(pending), tags)
                pending = []
                gated = None
                tags = ()
                continue
            pending.append(b)
        md(r.blocks(pending), tags)
    if gated is not None:
        raise ConversionError(f"{docname}: {{{gated.name}}} is never closed")

    if r.cited:
        segments.append(_Segment("markdown", ["## References", "", *book.bib.reference_list(r.cited)]))

    nb = nbformat.v4.new_notebook()
    first_md = True
    setup_done = setup_cell is None
    for seg in segments:
        if seg.kind == "code":
            if not setup_done:
                nb.cells.append(nbformat.v4.new_code_cell(setup_cell, metadata={"tags": ["colab-setup"]}))
                setup_done = True
            nb.cells.append(_code_cell(seg.cell, seg.tags))
            continue
        lines = seg.lines
        if first_md and book.macro_line():
            lines = [book.macro_line(), *lines]
        cell = nbformat.v4.new_markdown_cell("\n".join(lines))
        if seg.tags:
            cell.metadata["tags"] = list(seg.tags)
        nb.cells.append(cell)
        if first_md and preamble:
            nb.cells.append(nbformat.v4.new_markdown_cell("\n".join(preamble)))
        first_md = False
    if not setup_done:
        nb.cells.insert(0, nbformat.v4.new_code_cell(setup_cell, metadata={"tags": ["colab-setup"]}))
    return nb


_HIDDEN_INPUT = {"remove-input", "hide-input", "remove-cell", "hide-cell"}


def _code_cell(cell: dict[str, Any], extra_tags: tuple[str, ...]) -> nbformat.NotebookNode:
    tags = [t for t in cell["metadata"].get("tags", []) if t != "colab-setup"] + list(extra_tags)
    metadata: dict[str, Any] = {}
    if tags:
        metadata["tags"] = tags
    if _HIDDEN_INPUT & set(tags):  # plumbing: folded away in Jupyter, as the HTML hides it
        metadata["jupyter"] = {"source_hidden": True}
    return nbformat.v4.new_code_cell(cell["source"], metadata=metadata)
