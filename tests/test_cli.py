"""The command line: listing, running, and one clear line for bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import typing
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


def run_main(*args: str) -> subprocess.CompletedProcess:
    """The command line's ``main`` in this process (no interpreter start-up): exit status and captured output."""
    import contextlib
    import io

    from maxentrl.experiments.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


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
    assert_one_line_error(cli(name, "--seed", "x"), "seed must be an integer")
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
    hint = typing.get_type_hints(load_all()[name].config_type)[field]
    args = typing.get_args(hint)
    if args and args[-1] is not Ellipsis:  # a fixed-size tuple such as a (low, high) range
        value = ",".join([value] + ["1"] * (len(args) - 1))
    assert_one_line_error(run_main(name, "--set", f"{field}={value}"), "must lie in")


BAD_COMMAND_LINES = [
    (["ch02_soft_bellman", "--seed", "-1"], "seed must be an integer in"),
    (["ch02_soft_bellman", "--seed", "100000000000000"], "seed must be an integer in"),
    (["ch02_soft_bellman", "--seed", "1.5"], "seed must be an integer"),
    (["ch02_soft_bellman", "--set", "gamma_range=0.5"], "takes exactly 2 comma-separated values"),
    (["ch02_soft_bellman", "--set", "gamma_range=0.5,0.6,0.7"], "takes exactly 2 comma-separated values"),
    (["ch02_soft_bellman", "--set", "gamma_range=0.9,0.5"], "increasing order"),
    (["ch02_soft_bellman", "--set", "mc_tau=nan"], "finite"),
    (["ch02_soft_bellman", "--set", "n_states=1e12"], "n_states must lie in"),
    (["ch02_soft_bellman", "--set", "gap_taus="], "gap_taus takes at least 1"),
    (["ch02_soft_bellman", "--set", "mc_tau=1", "--set", "mc_tau=2"], "given twice"),
    (["ch02_soft_bellman", "--set", "=3"], "--set takes FIELD=VALUE"),
    (["ch02_soft_bellman", "--device", "gpu"], "device must be one of"),
    (["ch02_soft_bellman", "--device", "cuda:7"], "cuda:7"),
    (["ch02_soft_bellman", "--checkpoint-every", "-5"], "--checkpoint-every must be"),
    (["ch02_soft_bellman", "--checkpoint-every", "often"], "--checkpoint-every takes a number"),
    (["ch02_soft_bellman", "--time-limit", "0"], "--time-limit must be"),
    (["ch02_soft_bellman", "--time-limit", "inf"], "--time-limit must be"),
    (["ch02_soft_bellman", "--preset", "FULL"], "unknown preset 'FULL'"),
    (["ch02_soft_bellman", "--seed", "\u0663"], "seed must be an integer"),
    (["ch02_soft_bellman", "--set", "mc_gamma=-0"], "mc_gamma must lie in"),
    (["--preset", "full"], "need(s) an experiment name"),
]


@pytest.mark.parametrize("args, fragment", BAD_COMMAND_LINES, ids=[" ".join(a) for a, _ in BAD_COMMAND_LINES])
def test_bad_command_line_is_one_line_before_any_compute(args: list[str], fragment: str, tmp_path: Path) -> None:
    proc = run_main(*args, "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_empty_output_folder_is_refused() -> None:
    assert_one_line_error(run_main("ch02_soft_bellman", "--out", ""), "--out must name a folder")


def test_output_folder_that_is_a_file_or_below_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "results.json"
    a_file.write_text("{}")
    assert_one_line_error(cli("ch02_soft_bellman", "--out", str(a_file)), "is a file, not a folder")
    assert_one_line_error(cli("ch02_soft_bellman", "--out", str(a_file / "sub")), "cannot create the output folder")
    assert a_file.read_text() == "{}"


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    from maxentrl.experiments import get_experiment

    smoke = [arg for k, v in get_experiment("ch02_soft_bellman").smoke.items() for arg in ("--set", f"{k}={v}")]
    first = cli("ch02_soft_bellman", *smoke, "--out", str(tmp_path), "--time-limit", "0.001", "--device", "cpu")
    assert first.returncode == 75, first.stderr
    assert "run the same command again" in first.stderr and "Traceback" not in first.stderr
    other = cli("ch02_soft_bellman", *smoke, "--set", "mc_tau=0.7", "--out", str(tmp_path), "--device", "cpu")
    assert_one_line_error(other, "different config (fields: mc_tau)")


def test_cli_run_writes_result_with_provenance(tmp_path: Path) -> None:
    # The cheapest experiment, shrunk further through --set where it allows it, is still a real run.
    name = sorted(load_all())[0]
    proc = cli(name, "--preset", "quick", "--device", "cpu", "--seed", "0", "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / f"{name}_quick_seed0.json").read_text())
    prov = json.loads((tmp_path / f"{name}_quick_seed0.provenance.json").read_text())
    assert data["seed"] == 0 and prov["device"] == "cpu" and prov["seed"] == 0
