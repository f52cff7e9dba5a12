"""Small helpers for the chapters' notebooks.

:func:`glue` hands a computed number to the book's prose (myst-nb's ``glue``).
In Colab, where myst-nb is not installed, it simply returns the value, so the
same notebook runs in both places.
"""

from __future__ import annotations

from typing import Any

try:  # pragma: no cover - depends on the environment
    from myst_nb import glue as _myst_glue
except ImportError:  # Colab, plain Jupyter
    _myst_glue = None


def glue(name: str, value: Any, *, display: bool = False) -> Any:
    """Record ``value`` under ``name`` for ``{glue:text}`name:fmt``` in the prose; returns ``value``."""
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as _show

        _show(value)
    return value
