"""Finding the book's data folder and the committed full-preset results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maxentrl.experiments import committed_result
from maxentrl.paths import data_dir

ROOT = Path(__file__).resolve().parents[1]


def test_data_dir_is_the_repository_data_folder() -> None:
    assert data_dir() == ROOT / "data"
    assert (data_dir() / "roads" / "la_serena.npz").is_file()


def test_environment_variable_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAXENTRL_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    assert committed_result("ch02_soft_bellman") is None  # nothing committed there


def test_committed_results_carry_provenance() -> None:
    from maxentrl.experiments import load_result

    for folder in sorted((ROOT / "data" / "results").iterdir()):
        # a grid run in parts keeps each part in a sub-folder of data/results/<name>/
        paths = sorted(p for p in folder.rglob(f"{folder.name}_full_seed*.json")
                       if not p.name.endswith((".provenance.json", ".partial.json")))
        # a full run that could not finish here is committed as its finished stages, with their provenance
        for part in sorted(folder.rglob(f"{folder.name}_full_seed*.partial.json")):
            data = json.loads(part.read_text())
            assert data["preset"] == "full" and data["experiment"] == folder.name and data["finished_stages"], part
            prov = data["provenance"]
            assert prov["commits"] and not any(c == "unknown" or c.endswith("+dirty") for c in prov["commits"]), part
            assert prov["device_name"] and prov["wall_time_s"] > 0, part
            paths.append(part)
        assert paths, folder
        paths = [p for p in paths if not p.name.endswith(".partial.json")]
        if committed_result(folder.name) is None:
            assert all(p.parent != folder for p in paths)
        for path in paths:
            result = load_result(path)
            assert result.preset == "full" and result.name == folder.name
            prov = result.provenance
            assert prov["git_commit"] != "unknown" and not prov["git_commit"].endswith("+dirty"), path
            for key in ("device_name", "torch_version", "wall_time_s", "date_utc", "seed"):
                assert key in prov


def test_missing_result_is_none() -> None:
    assert committed_result("ch02_soft_bellman", preset="full", seed=12345) is None


def test_committed_benchmarks_carry_clean_provenance() -> None:
    import json

    files = sorted((ROOT / "data" / "benchmarks").glob("*.json"))
    assert files
    for path in files:
        prov = json.loads(path.read_text())["provenance"]
        assert not prov["git_commit"].endswith("+dirty") and prov["git_commit"] != "unknown", path.name
        assert "device_name" in prov and "date_utc" in prov


def test_a_stated_commit_wins_over_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    from maxentrl.provenance import git_commit

    monkeypatch.setenv("MAXENTRL_COMMIT", "0123456789abcdef0123456789abcdef01234567")
    assert git_commit() == "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.delenv("MAXENTRL_COMMIT")
    assert git_commit() != "0123456789abcdef0123456789abcdef01234567"
