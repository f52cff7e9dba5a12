"""Where the book's data lives: the repository's ``data/`` folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def _is_book_root(path: Path) -> bool:
    return (path / "data").is_dir() and (path / "_config.yml").is_file()


def data_dir() -> Path:
    """The ``data/`` folder of the book's repository.

    Looked for, in order: the environment variable ``MAXENTRL_DATA``; the
    checkout this package is imported from (``code/maxentrl`` sits two levels
    below the repository root); the working directory and its parents.
    """
    if os.environ.get("MAXENTRL_DATA"):
        return Path(os.environ["MAXENTRL_DATA"])
    here = Path(__file__).resolve().parents[2]
    if _is_book_root(here):
        return here / "data"
    cwd = Path.cwd().resolve()
    for root in (cwd, *cwd.parents):
        if _is_book_root(root):
            return root / "data"
    raise FileNotFoundError(
        "the book's data/ folder was not found: run from a clone of the repository or set MAXENTRL_DATA"
    )
