"""Sphinx extension: a chapter's Colab button and notebook download lead to its generated notebook.

sphinx-book-theme builds the Colab link of a page from the page's source path
(``book/ch01_x.md`` becomes ``.../blob/<branch>/book/ch01_x.ipynb``) and offers
the executed notebook, raw MyST and all, as the ``.ipynb`` download. This
extension points both at the notebook ``tools/sync_notebooks.py`` generated
for the page (plain markdown, numbers filled in):

``colab_notebook_dir``
    where the notebooks live in the repository (``book`` for the book,
    ``book/student`` for the student edition, whose notebooks carry no solutions);
``colab_repository_root``
    the checkout holding that folder (default: the book's source folder).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx


def _stem(pagename: str) -> str:
    return pagename.rsplit("/", 1)[-1]


def _notebook(app: Sphinx, pagename: str) -> Path:
    root = Path(app.config.colab_repository_root or app.srcdir)
    return root / app.config.colab_notebook_dir / f"{_stem(pagename)}.ipynb"


def _point_buttons(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    notebook = _notebook(app, pagename)
    if not notebook.exists():
        return
    folder = app.config.colab_notebook_dir.strip("/")
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            url = button.get("url", "")
            if button.get("text") == "Colab" and "/blob/" in url:
                head, tail = url.split("/blob/", 1)
                branch = tail.split("/", 1)[0]
                button["url"] = f"{head}/blob/{branch}/{folder}/{notebook.name}"
    if context.get("ipynb_source"):  # the theme offers _sources/<page>.ipynb for download: make it this notebook
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("colab_notebook_dir", "book", "html")
    app.add_config_value("colab_repository_root", "", "html")
    app.connect("html-page-context", _point_buttons, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
