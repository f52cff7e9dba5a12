"""Print the book's _config.yml with exercise solutions hidden (for `make student`)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def student_config() -> dict:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = config["title"] + " (student edition)"
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    return config


if __name__ == "__main__":
    yaml.safe_dump(student_config(), sys.stdout, sort_keys=False, allow_unicode=True)
