"""Small helpers for the chapters' notebooks.

:func:`glue` hands a computed number (or string) to the book's prose, and
:func:`glue_figure` a matplotlib figure to a numbered, captioned
``{glue:figure}`` directive; both use myst-nb's ``glue`` when it is installed
(the book build). Neither returns anything, so a cell that ends with a glue
call echoes no value.

In Colab or a plain Jupyter without myst-nb there is nothing to paste into:
:func:`glue` then does nothing (unless asked to display the value), and
:func:`glue_figure` leaves the figure open, so that the notebook shows it
below the cell as usual.
"""

from __future__ import annotations

from typing import Any

try:  # pragma: no cover - depends on the environment
    from myst_nb import glue as _myst_glue
except ImportError:  # Colab, plain Jupyter
    _myst_glue = None

__all__ = ["glue", "glue_figure"]


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Record ``value`` under ``name`` for ``{glue:text}`name:fmt``` in the prose.

    With ``display=True`` the value is also shown below the cell. Returns
    ``None``: a cell whose last line is a glue call prints nothing.
    """
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as _show

        _show(value)


def glue_figure(name: str, fig: Any) -> None:
    """Record the matplotlib figure ``fig`` under ``name`` for a ``{glue:figure}`` directive.

    In the book build the figure is stored without being shown and then closed,
    so it appears once, where the directive puts it with its number and
    caption. Without myst-nb the figure stays open and the notebook's inline
    backend shows it below the cell.
    """
    if _myst_glue is None:
        return
    _myst_glue(name, fig, display=False)
    import matplotlib.pyplot as plt

    plt.close(fig)
