"""The checker of the built HTML (tools/check_html.py) fails on dirty pages and passes clean ones."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_html", ROOT / "tools" / "check_html.py")
check_html = importlib.util.module_from_spec(spec)
sys.modules["check_html"] = check_html
spec.loader.exec_module(check_html)

NOT_BOLD = "span.pasted-text { font-weight: inherit; }"


def page(body: str) -> str:
    """A page laid out as the book's theme lays it out: navigation outside the article."""
    return f"""<html><head><title>t</title></head><body>
<nav><img class="logo__image" src="logo.png"/></nav>
<article class="bd-article"><section><h1>Chapter</h1>{body}</section></article>
</body></html>"""


def cell(source: str, outputs: str, tags: str = "") -> str:
    return f"""<div class="cell {tags} docutils container">
<div class="cell_input docutils container"><div class="highlight"><pre>{source}</pre></div></div>
<div class="cell_output docutils container">{outputs}</div></div>"""


def stream(text: str, kind: str = "stream") -> str:
    return f'<div class="output {kind} highlight-myst-ansi notranslate"><div class="highlight"><pre>{text}</pre></div></div>'


FIGURE = """<figure class="align-default" id="ch01-fig-x"><img alt="" src="../_images/x.png"/>
<figcaption><p><span class="caption-number">Figure 1.2 </span><span class="caption-text">What to see (quick run).</span></p>
</figcaption></figure>"""

CLEAN = page(
    "<p>By <a class=\"reference internal\"><span class=\"xref std std-ref\">Theorem 2.3</span></a> the value is <span class=\"pasted-text\">0.25</span>, and that that step holds.</p>"
    + cell("x = 1\nprint(x)", stream("1"))
    + cell("glue('a', 1)", "")
    + FIGURE
    + "<pre>python -m maxentrl.experiments ch01 --out /tmp/x   # code is not checked</pre>"
    + "<p>Activate <code>.venv</code> and run the chapter.</p>"
)


def rules(html: str, css: str = NOT_BOLD) -> list[str]:
    return [p.rule for p in check_html.check_page(html, page="p.html", css=css)]


def test_a_clean_page_passes() -> None:
    assert check_html.check_page(CLEAN, page="p.html", css=NOT_BOLD) == []


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (cell("import tqdm.auto", stream("/x/tqdm/auto.py:21: TqdmWarning: IProgress not found", "stderr")), "stderr"),
        (cell("run()", stream("UserWarning: the step is large")), "warning"),
        (cell("run()", stream("Traceback (most recent call last):\n  File ...")), "traceback"),
        (cell("1/0", '<div class="output traceback highlight-ipythontb"><pre>ZeroDivisionError</pre></div>'), "traceback"),
        (cell("run()", stream("saved to /home/someone/runs/out.json")), "machine-path"),
        (cell("run()", stream("loaded from /root/book/.venv/lib/python3.11/site-packages/x.py")), "machine-path"),
        (cell("run()", stream("python .venv/bin/python")), "machine-path"),
        ("<p>The result is in <span class=\"pasted-text\">/tmp/run/out.json</span>.</p>", "machine-path"),
        ("<p>Read from /home/reader/book/data/results, as the run says.</p>", "machine-path"),
        (cell('glue("c", 0.25)', stream("0.25", "text_plain")), "echo"),
        (cell("x", stream("'0.2500, 0.2500, 0.5000'", "text_plain")), "echo"),
        ("<p>By Theorem <a><span>Theorem 2.3</span></a> the value is finite.</p>", "doubled-word"),
        ("<p>the the value</p>", "doubled-word"),
        ("<p>The value is {glue:text}`c12_kl:.1e` here.</p>", "unresolved"),
        ("<p>See {prf:ref}`ch02-thm-bellman`.</p>", "unresolved"),
        ("<p>The gap is <span class=\"pasted-text\">nan</span>.</p>", "unresolved"),
        ('<p>the target of <code class="xref eq docutils literal"><span class="pre">ch02-eq-n-step</span></code></p>', "unresolved"),
        (cell("plt.show()", '<img alt="" src="../_images/y.png"/>'), "figure"),
        ('<figure><img src="../_images/z.png"/><figcaption><p>No number.</p></figcaption></figure>', "figure"),
        (
            '<figure><img src="z.png"/><figcaption><p><span class="caption-number">Figure 6.1 </span>'
            "The full preset on a GPU.</p></figcaption></figure>",
            "figure",
        ),
    ],
)
def test_a_dirty_page_fails(body: str, rule: str) -> None:
    assert rule in rules(page(body))


def test_words_around_a_formula_are_not_doubled() -> None:
    html = page('<p>For <span class="math notranslate nohighlight">\\(k = 1, 2\\)</span> for every state</p>')
    assert rules(html) == []


def test_a_repeated_name_in_the_reference_list_is_not_a_doubled_word() -> None:
    html = page('<div class="citation" role="doc-biblioentry"><p>Kenny Young and Tian Tian. MinAtar.</p></div>')
    assert rules(html) == []
    assert "doubled-word" in rules(page("<p>as Tian Tian showed</p>"))  # in running text it is still checked


def test_a_cell_may_opt_in_to_showing_a_value() -> None:
    html = page(cell("mdp.P.shape", stream("torch.Size([3, 5, 4, 4])", "text_plain"), tags="tag_allow-repr"))
    assert rules(html) == []


def test_glued_text_in_bold_fails_unless_a_style_sheet_resets_it() -> None:
    html = page('<p>It is <span class="pasted-text">0.25</span>.</p>')
    assert rules(html, css="span.pasted-text {\n  font-weight: bold;\n}") == ["bold-glue"]
    assert rules(html, css="span.pasted-text {\n  font-weight: bold;\n}\n" + NOT_BOLD) == []


def test_the_book_style_sheet_resets_bold_glue() -> None:
    assert check_html.PASTED_NOT_BOLD.search((ROOT / "_static" / "book.css").read_text())


def test_check_build_reads_linked_style_sheets_and_exits_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "book.css").write_text(NOT_BOLD)
    (tmp_path / "book").mkdir()
    head = '<link rel="stylesheet" href="../_static/book.css?v=1" />'
    (tmp_path / "book" / "clean.html").write_text(CLEAN.replace("<title>t</title>", head))
    assert check_html.main([str(tmp_path)]) == 0
    dirty = page(cell("x", stream("UserWarning: careful", "stderr")))
    (tmp_path / "book" / "dirty.html").write_text(dirty.replace("<title>t</title>", head))
    assert check_html.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "book/dirty.html: stderr:" in out and "clean.html" not in out


def test_an_empty_build_fails(tmp_path: Path) -> None:
    assert check_html.main([str(tmp_path)]) == 1
