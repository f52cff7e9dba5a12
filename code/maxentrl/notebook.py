"""Small helpers for the chapters' notebooks.

:func:`glue` hands a computed value to the book's prose and :func:`glue_figure`
a figure to a numbered, captioned ``{glue:figure}`` (myst-nb's ``glue``). They
return ``None``, so a cell that ends with one echoes nothing.

A chapter runs in two settings. In the book's build, myst-nb records the value
and the prose quotes it (``{glue:text}``, ``{glue:figure}``). In a generated
Colab/Jupyter notebook, whose set-up cell sets ``MAXENTRL_STANDALONE_NOTEBOOK``,
the numbers are already written into the text, so a glued number is simply
dropped, while a glued figure (or any other rich object) is shown as the output
of the cell that made it, where the notebook's caption refers to it.
"""

from __future__ import annotations

import os
from typing import Any

try:  # pragma: no cover - depends on the environment
    from myst_nb import glue as _myst_glue
except ImportError:  # Colab, plain Jupyter
    _myst_glue = None

__all__ = ["glue", "glue_figure", "standalone"]

_RICH_REPRS = ("_repr_html_", "_repr_png_", "_repr_svg_", "_repr_jpeg_", "_repr_markdown_", "_repr_latex_")


def standalone() -> bool:
    """Whether this runs in a generated notebook (Colab, plain Jupyter) rather than the book's build."""
    return os.environ.get("MAXENTRL_STANDALONE_NOTEBOOK", "") not in ("", "0")


def _is_figure(value: Any) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return False
    return isinstance(value, Figure)


def _show_and_close(value: Any) -> None:
    from IPython.display import display as _show

    _show(value)
    if _is_figure(value):
        import matplotlib.pyplot as plt

        plt.close(value)  # shown once: the inline backend does not draw it again


def glue_figure(name: str, fig: Any) -> None:
    """Record the matplotlib figure ``fig`` under ``name`` for a ``{glue:figure}`` directive.

    In the book build the figure is stored without being shown and closed, so it
    appears once, where the directive puts it with its number and caption. In a
    generated notebook it is shown below the cell that drew it (its caption is
    in the text). Without myst-nb it stays open for the inline backend to show.
    """
    if standalone():
        _show_and_close(fig)
        return
    if _myst_glue is None:
        return
    _myst_glue(name, fig, display=False)
    import matplotlib.pyplot as plt

    plt.close(fig)


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Record ``value`` under ``name`` for ``{glue:text}`name:fmt``` or ``{glue:figure}`` in the prose.

    In a standalone notebook a figure or another rich object is displayed
    (and a figure closed, so it is not drawn twice); numbers and text are not.
    """
    if standalone():
        if _is_figure(value) or any(hasattr(value, r) for r in _RICH_REPRS):
            _show_and_close(value)
        return None
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as _show

        _show(value)
    return None
