"""The command line: listing, running, and one clear line for bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maxentrl.experiments import load_all

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "maxentrl.experiments", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600, env={**os.environ, "MAXENTRL_PROGRESS": "0"},
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]


def test_listing_names_every_chapter_experiment() -> None:
    proc = cli()
    assert proc.returncode == 0, proc.stderr
    names = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert names == set(load_all())
    assert any(n.startswith("ch01") for n in names)


def test_unknown_experiment() -> None:
    assert_one_line_error(cli("no_such_experiment"), "unknown experiment 'no_such_experiment'")


def test_unknown_preset() -> None:
    name = sorted(load_all())[0]
    assert_one_line_error(cli(name, "--preset", "enormous"), "unknown preset 'enormous'")


def test_unknown_option_is_one_line() -> None:
    assert_one_line_error(cli("--frobnicate"), "unrecognized arguments")


def test_bad_seed_and_bad_set() -> None:
    name = sorted(load_all())[0]
    assert_one_line_error(cli(name, "--seed", "x"), "seed must be a non-negative integer")
    assert_one_line_error(cli(name, "--set", "nonsense"), "--set takes FIELD=VALUE")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu() -> None:
    name = sorted(load_all())[0]
    assert_one_line_error(cli(name, "--device", "cuda"), "no CUDA GPU is available")


def _temperature_fields() -> list[tuple[str, str]]:
    out = []
    for name, exp in sorted(load_all().items()):
        for field in dataclasses.fields(exp.config_type):
            if "tau" in field.name:
                out.append((name, field.name))
    return out


def test_temperature_fields_are_found() -> None:
    # Chapters 1 and 2 are all about the temperature; their configs must expose it.
    names = {n for n, _ in _temperature_fields()}
    assert {"ch01_boltzmann", "ch02_soft_bellman"} <= names


@pytest.mark.parametrize("name, field", _temperature_fields())
@pytest.mark.parametrize("value", ["-1", "0"])
def test_non_positive_temperature(name: str, field: str, value: str) -> None:
    assert_one_line_error(cli(name, "--set", f"{field}={value}"), "must be positive")


def test_cli_run_writes_result_with_provenance(tmp_path: Path) -> None:
    # The cheapest experiment, shrunk further through --set where it allows it, is still a real run.
    name = sorted(load_all())[0]
    proc = cli(name, "--preset", "quick", "--device", "cpu", "--seed", "0", "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / f"{name}_quick_seed0.json").read_text())
    assert data["provenance"]["device"] == "cpu" and data["provenance"]["seed"] == 0
