"""tools/myst_to_ipynb.py: MyST chapters become plain-markdown notebooks whose numbers are the HTML's.

The fixture book (tests/fixtures/minibook) uses every construct the converter
knows. The numbering test builds the HTML of the fixture and of the real book
with Sphinx (without executing anything) and checks that every number and
every reference text the converter writes is the one on the page.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "minibook"

spec = importlib.util.spec_from_file_location("myst_to_ipynb", ROOT / "tools" / "myst_to_ipynb.py")
m = importlib.util.module_from_spec(spec)
sys.modules["myst_to_ipynb"] = m
spec.loader.exec_module(m)

GLUE = {"fx1_value": {"text/plain": "0.123456789"}, "fx1_count": {"text/plain": "42"},
        "fx1_text": {"text/plain": "'a_b *c*'"}}

#: MyST syntax that must not survive into a notebook's markdown.
LEFTOVERS = {
    "directive fence": re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*\{[\w:.-]+\}", re.M),
    "role": re.compile(r"\{[A-Za-z][\w:.+-]*\}`"),
    "label line": re.compile(r"^\s*\([^()\s]+\)=\s*$", re.M),
    "directive option": re.compile(r"^\s*:(label|name|class|tags|caption|header-rows|nonumber|dropdown):", re.M),
    "equation label": re.compile(r"\$\$\s*\([^()\s]+\)\s*$", re.M),
    "glue": re.compile(r"\{glue"),
    "substitution": re.compile(r"\{\{"),
    "cell marker": re.compile(r"^\+\+\+", re.M),
}


def leftover_myst(text: str) -> list[str]:
    """The kinds of MyST syntax found in ``text`` outside code blocks and code spans."""
    prose = re.sub(r"^(\s*>?\s*)(`{3,}|~{3,})(?!\s*\{).*?^\1\2\s*$", "", text, flags=re.M | re.S)
    fences = LEFTOVERS["directive fence"].search(prose)
    prose = re.sub(r"(?<![`}])(`+)(?!`)(.+?)(?<!`)\1(?!`)", "", prose)  # code spans (not roles) on one line
    return [kind for kind, pattern in LEFTOVERS.items() if pattern.search(prose) or (kind == "directive fence" and fences)]


def convert(docname: str = "book/ch01_fixture", edition: str = "full", log: list | None = None):
    book = m.Book(FIXTURE, edition=edition)
    return m.convert_notebook(book, docname, GLUE, preamble=["PREAMBLE"], setup_cell="SETUP", log=log)


def markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# --------------------------------------------------------------------------
# What the converter writes
# --------------------------------------------------------------------------

def test_blocks_become_numbered_block_quotes() -> None:
    md = markdown(convert())
    assert "> **Definition 1.1** (A thing)" in md
    assert "> **Theorem 1.1** (Things are fine)" in md
    assert "> **Lemma 1.1**\n" in md  # unlabelled, still numbered
    assert "> **Remark** (An aside)" in md  # :nonumber:
    assert "> **Algorithm 1.1** (Doubling)" in md
    assert "> *Proof.* Obvious from" in md and "and nothing else. ∎" in md
    assert "> > **Note**" in md  # an admonition nested in a theorem
    assert "> **Exercise 1.1** (Square it)" in md


def test_equations_are_tagged_and_kept_on_one_line_inside_quotes() -> None:
    md = markdown(convert())
    assert "> $$ f(x) = \\half{x} \\tag{1.1} $$" in md  # inside the definition
    assert ">    $$ y = 2x \\tag{1.2} $$" in md  # inside a list inside the algorithm
    assert "$$\na^2 + b^2 = c^2\n\\tag{1.3}\n$$" in md  # {math} with a label
    assert "$$\ne^{i\\pi} + 1 = 0\n\\tag{1.4}\n$$" in md
    assert "$$\n\\text{unnumbered}\n$$" in md


def test_references_citations_and_glue_are_resolved() -> None:
    md = markdown(convert())
    assert "Every thing of Definition 1.1 satisfies (1.1)." in md
    assert "See Fig. 1.2, Table 1.1, Listing 1.1,\nFigures, code and tables, the definitions, Algorithm 1.1," in md
    assert "Theorem 2.1 and (2.1) of the next chapter" in md  # across chapters
    assert "The second fixture chapter, front matter" in md  # {doc}
    assert "and Symbols." in md  # {ref} to a section of an unnumbered page
    assert "We cite one author \\[Solo, 2001\\], two Pair and Couple \\[2002\\], three\n\\[Many *et al.*, 2003\\]" in md
    assert "The value is 0.123, the count 42,\nthe text a\\_b \\*c\\*, and in percent 12.3%." in md
    assert "| alpha | 0.12 |" in md
    assert "Inline code such as `{eq}` and ``a `b` c`` stays as it is." in md  # code spans untouched


def test_figures_code_and_tables() -> None:
    md = markdown(convert())
    assert ("**Fig. 1.1** *(the figure is the output of the code cell that draws it, above)* "
            "A line, as Fig. 1.1 shows, with equation (1.3).") in md
    assert "![a diagram](https://raw.githubusercontent.com/example-org/example-book/main/code/diagram.png)" in md
    assert "**Fig. 1.2** A static diagram." in md
    source = (FIXTURE / "code" / "sample.py").read_text()
    function = source[source.index("def soft_thing"):].rstrip()
    assert f"```python\n{function}\n```" in md  # :pyobject: resolved by Sphinx's own reader
    assert "def helper" not in md
    assert "**Listing 1.1** A listing\n\n```python\nprint(\"hello\")\n```" in md
    assert "**Table 1.1** Two rows\n\n| name | value |\n| --- | --- |" in md


def test_solutions_dropdowns_and_the_reference_list() -> None:
    nb = convert()
    md = markdown(nb)
    assert "<details>\n<summary><b>Solution to Exercise 1.1 (Square it)</b></summary>\n\nIt is $x \\cdot x$." in md
    assert "<details>\n<summary><b>A titled aside</b></summary>" in md
    gated = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert [c.cell_type for c in gated] == ["markdown", "code", "markdown"]
    assert gated[0].source.startswith("**Solution to Exercise 1.2**") and "return x * x" in gated[1].source
    refs = nb.cells[-1].source
    assert refs.startswith("## References")
    assert "- \\[Solo, 2001\\] Ada Solo. *A Book by One Author*. Fixture Press, 2001." in refs
    assert "<https://example.org>" in refs


def test_cells_macros_preamble_and_setup() -> None:
    nb = convert()
    first = nb.cells[0].source
    assert first.startswith("$\\newcommand{\\E}{\\mathbb{E}}\\newcommand{\\half}[1]{\\frac{#1}{2}}$\n# 1. The first")
    assert nb.cells[1].source == "PREAMBLE"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == "SETUP" and code[0].metadata["tags"] == ["colab-setup"]
    assert code[1].metadata["jupyter"] == {"source_hidden": True}  # a remove-input cell, folded in Jupyter
    assert "glue(\"fx1_value\"" in code[1].source  # the code is the book's, unchanged


def test_student_edition_has_no_solution() -> None:
    nb = convert(edition="student")
    text = "\n".join(c.source for c in nb.cells)
    assert "Solution" not in text and "x \\cdot x" not in text and "return x * x" not in text
    assert "raise NotImplementedError" in text  # the stub stays
    assert "> **Exercise 1.2**" in text


def test_no_myst_syntax_is_left() -> None:
    for edition in ("full", "student"):
        for doc in ("book/ch01_fixture", "book/ch02_fixture"):
            nb = convert(doc, edition)
            assert leftover_myst(markdown(nb)) == [], (doc, edition)


def test_the_leftover_detector_finds_myst() -> None:
    assert leftover_myst("```{prf:theorem}\nx\n```") == ["directive fence"]
    assert leftover_myst("see {eq}`x`") == ["role"]
    assert leftover_myst("(ch01-x)=\n# T") == ["label line"]
    assert leftover_myst("$$\nx\n$$ (eq-x)") == ["equation label"]
    assert leftover_myst("```python\n{eq}`x`\n```\nand `{eq}` in code") == []


def test_unknown_constructs_fail_loudly(tmp_path: Path) -> None:
    root = tmp_path / "book"
    shutil.copytree(FIXTURE, root)
    chapter = root / "book" / "ch02_fixture.md"
    chapter.write_text(chapter.read_text() + "\n```{mermaid}\ngraph TD\n```\n")
    with pytest.raises(m.ConversionError, match="mermaid"):
        m.convert_notebook(m.Book(root), "book/ch02_fixture", GLUE)
    chapter.write_text(chapter.read_text().replace("```{mermaid}\ngraph TD\n```", "{kbd2}`x`"))
    with pytest.raises(m.ConversionError, match="kbd2"):
        m.convert_notebook(m.Book(root), "book/ch02_fixture", GLUE)
    with pytest.raises(m.ConversionError, match="no value was glued"):
        m.convert_notebook(m.Book(FIXTURE), "book/ch01_fixture", {})


def test_strip_solutions() -> None:
    text = "A\n\n````{solution} ex\n:class: dropdown\n\nSecret.\n````\n\nB\n\n```{solution-start} ex2\n```\n\nHidden\n\n" \
           "```{code-cell} ipython3\nsecret()\n```\n\n```{solution-end}\n```\n\nC\n"
    out = m.strip_solutions(text)
    assert "Secret" not in out and "Hidden" not in out and "secret()" not in out and "solution" not in out
    assert out.split() == ["A", "B", "C"]


# --------------------------------------------------------------------------
# The numbers are the HTML's
# --------------------------------------------------------------------------

def _build_html(source: Path, dest: Path, edition: str) -> Path:
    """Build ``source``'s HTML with Sphinx into ``dest`` without executing anything; glued figures become figures."""
    dest.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(source / name, dest / name)
    if source == ROOT and edition == "student":  # the configuration make student uses
        import yaml

        spec2 = importlib.util.spec_from_file_location("student_edition", ROOT / "tools" / "student_edition.py")
        student_edition = importlib.util.module_from_spec(spec2)
        spec2.loader.exec_module(student_edition)
        (dest / "_config.yml").write_text(yaml.safe_dump(student_edition.student_config(), sort_keys=False))
    (dest / "book").mkdir()
    placeholder = FIXTURE / "code" / "diagram.png"
    shutil.copy(placeholder, dest / "book" / "_placeholder.png")
    for f in (source / "book").iterdir():
        if not f.is_file() or (f.suffix == ".ipynb" and edition == "student"):
            continue  # the full book's generated notebooks sit beside its sources, as in the repository
        if f.suffix == ".md":
            text = f.read_text(encoding="utf-8")
            if edition == "student":
                text = m.strip_solutions(text)
            # without execution a glued figure has nothing to show; a figure takes its place and number
            text = re.sub(r"^(`{3,}|:{3,})\{glue:figure\}\s+\S+", r"\1{figure} _placeholder.png", text, flags=re.M)
            (dest / "book" / f.name).write_text(text, encoding="utf-8")
        else:
            shutil.copy(f, dest / "book" / f.name)
    for name in ("code", "tools"):
        if (source / name).exists():
            (dest / name).symlink_to(source / name, target_is_directory=True)
    jb = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "config", "sphinx", str(dest)], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(dest / "tools"))  # jupyter-book build adds local_extensions' folder so
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-D", "nb_execution_mode=off",
                           str(dest), str(dest / "_html")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return dest / "_html"


def _norm(text: str) -> str:
    text = text.replace("\\(", "$").replace("\\)", "$").replace("#", "")
    text = re.sub(r"\\([\\`*_\[\]<>|])", r"\1", text).replace("*", "")
    return " ".join(text.split())


def _html_facts(page: Path) -> dict:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    main = soup.select_one("article.bd-article") or soup.find("main")
    links: dict[str, set[str]] = {}
    for a in main.select("a.reference.internal"):
        href = a.get("href", "")
        key = href.split("#", 1)[1] if "#" in href else href.rsplit("/", 1)[-1]
        links.setdefault(key, set()).add(_norm(a.get_text()))
    return {
        "captions": [_norm(e.get_text()) for e in main.select("span.caption-number")],
        "equations": [_norm(e.get_text()) for e in main.select("span.eqno")],
        "sections": [re.match(r"[\d.]+", _norm(h.get_text())).group(0).rstrip(".")
                     for h in main.select("h1, h2, h3, h4, h5, h6") if re.match(r"\d", _norm(h.get_text()))],
        "citations": [_norm(e.get_text()) for e in main.select("span.bibtex-citation")],
        "links": links,
    }


def _our_facts(book, docname: str) -> dict:
    doc = book.documents[docname]
    nf = book.numfig_format
    captions, equations, sections = [], [], []
    for cell in doc.cells:
        for b in m.walk(cell.get("blocks", [])):
            if b.kind == "heading" and b.number:
                sections.append(b.number)
            elif b.kind == "math" and b.number:
                equations.append(f"({b.number})")
            elif b.kind == "directive":
                name = b.name
                if name.startswith("prf:") and name[4:] in m.PROOF_TYPES:
                    captions.append(f"{name[4:].title()} {b.number}" if b.number else name[4:].title())
                elif name in ("exercise", "exercise-start"):
                    captions.append(nf["exercise"] % b.number if b.number else "Exercise")
                elif name == "math" and b.number:
                    equations.append(f"({b.number})")
                elif b.number and name in ("figure", "glue:figure"):
                    captions.append(nf["figure"] % b.number)
                elif b.number and name in ("table", "list-table", "csv-table"):
                    captions.append(nf["table"] % b.number)
                elif b.number and name in ("code-block", "code", "literalinclude"):
                    captions.append(nf["code-block"] % b.number)
    log: list = []
    glue = _AnyGlue()
    m.convert_notebook(book, docname, glue, log=log)
    return {"captions": captions, "equations": equations, "sections": sections, "log": log}


class _AnyGlue(dict):
    """Glued values for a numbering check: any key, one harmless value."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> dict[str, str]:
        return {"text/plain": "1", "text/markdown": "1", "text/latex": "1"}


def _chapters(book) -> list[str]:
    """The notebook pages (chapters and appendices) of ``book``."""
    return [d for d, doc in book.documents.items() if len(doc.cells) > 1]


@pytest.fixture(scope="module", params=[("fixture", "full"), ("fixture", "student"), ("book", "full"),
                                         ("book", "student")], ids=lambda p: f"{p[0]}-{p[1]}")
def built(request, tmp_path_factory):
    which, edition = request.param
    source = FIXTURE if which == "fixture" else ROOT
    html = _build_html(source, tmp_path_factory.mktemp(f"{which}-{edition}") / "src", edition)
    return m.Book(source, edition=edition), html


def test_numbers_and_reference_texts_are_the_htmls(built) -> None:
    book, html = built
    chapters = _chapters(book)
    assert chapters
    for docname in chapters:
        ours = _our_facts(book, docname)
        theirs = _html_facts(html / f"{docname}.html")
        assert ours["sections"] == theirs["sections"], docname
        assert ours["equations"] == theirs["equations"], docname
        assert ours["captions"] == theirs["captions"], docname
        cites = [_norm(text) for role, _, text in ours["log"] if role == "cite" or role.startswith("cite:")]
        assert cites == [c for c in theirs["citations"]], docname
        checked = 0
        for role, content, text in ours["log"]:
            if role not in ("eq", "prf:ref", "numref", "ref", "doc") or m._EXPLICIT.match(content):
                continue
            target = f"equation-{content}" if role == "eq" else content
            if role == "doc":
                target = book.docname_of(content, docname).rsplit("/", 1)[-1] + ".html"
            # a link's text keeps the math of a section title; the HTML drops its $ delimiters there
            html_texts = {t.replace("$", "") for t in theirs["links"].get(target, set())}
            assert _norm(text).replace("$", "") in html_texts, (docname, role, content, text,
                                                                theirs["links"].get(target))
            checked += 1
        assert checked or "fixture" not in docname


def test_colab_button_and_download_lead_to_the_generated_notebook(built) -> None:
    book, html = built
    if book.root != ROOT:
        pytest.skip("the fixture book has no generated notebooks")
    folder = "book/student" if book.edition == "student" else "book"
    for docname in _chapters(book):
        stem = docname.rsplit("/", 1)[-1]
        page = (html / f"{docname}.html").read_text(encoding="utf-8")
        colab = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', page)
        assert colab == [f"https://colab.research.google.com/github/maxentrl-book/maxentrl-book/blob/main/"
                         f"{folder}/{stem}.ipynb"], colab
        download = html / "_sources" / f"{docname}.ipynb"
        assert download.read_bytes() == (ROOT / folder / f"{stem}.ipynb").read_bytes()
        if book.edition == "student":
            source = (html / "_sources" / f"{docname}.md").read_text(encoding="utf-8")
            assert "{solution" not in source
