"""Write the student edition's sources: the book with every exercise solution removed.

``python tools/student_edition.py OUT`` writes OUT/_config.yml (solutions
hidden, title marked), OUT/_toc.yml, OUT/book/ with each chapter's gated
solutions (``solution-start`` ... ``solution-end``, which may hold code cells)
cut out, and a link OUT/data to the repository's data/ folder. Plain
``solution`` directives are hidden by sphinx-exercise's ``hide_solutions``.
``make student`` builds OUT with the same strict flags as the book.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_START = re.compile(r"^(`{3,}|:{3,})\{solution-start\}")
_END = re.compile(r"^(`{3,}|:{3,})\{solution-end\}")


def strip_gated_solutions(text: str) -> str:
    """``text`` without its ``solution-start`` ... ``solution-end`` regions (fences included)."""
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if _START.match(lines[i]):
            j = i
            while j < len(lines) and not _END.match(lines[j]):
                j += 1
            if j == len(lines):
                raise ValueError(f"solution-start at line {i + 1} has no solution-end")
            fence = _END.match(lines[j]).group(1)
            j += 1
            while j < len(lines) and lines[j].strip() != fence:  # options of the end directive, then its fence
                j += 1
            i = j + 1
            continue
        out.append(lines[i])
        i += 1
    return "".join(out)


def student_config() -> dict:
    """The book's configuration with solutions hidden and the title marked."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = config["title"] + " (student edition)"
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    return config


def write_edition(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    (out / "book").mkdir(parents=True)
    (out / "_config.yml").write_text(yaml.safe_dump(student_config(), sort_keys=False, allow_unicode=True))
    shutil.copy(ROOT / "_toc.yml", out / "_toc.yml")
    for src in (ROOT / "book").iterdir():
        if src.suffix == ".md":
            (out / "book" / src.name).write_text(strip_gated_solutions(src.read_text(encoding="utf-8")), encoding="utf-8")
        elif src.suffix != ".ipynb" and src.is_file():
            shutil.copy(src, out / "book" / src.name)
    (out / "data").symlink_to(ROOT / "data", target_is_directory=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/student_edition.py OUT_DIR")
    write_edition(Path(sys.argv[1]).resolve())
