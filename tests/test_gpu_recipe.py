"""A dry run, on the CPU, of the recipe for full runs on a GPU machine without internet (scripts/gpu/)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from maxentrl.experiments import get_experiment, run_experiment

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu" / "run_full.sh"
NAME = "ch02_soft_bellman"


def _dummy_wheel(folder: Path) -> Path:
    """Build a wheel of a one-module package, standing in for a carried dependency."""
    src = folder / "src"
    (src / "carried_dep").mkdir(parents=True)
    (src / "carried_dep" / "__init__.py").write_text("VALUE = 42\n")
    (src / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "carried-dep"
        version = "1.0"
        """))
    wheels = folder / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(src)], check=True, capture_output=True)
    return wheels


def test_recipe_runs_a_preset_as_a_series_of_bounded_commands(tmp_path: Path) -> None:
    smoke = get_experiment(NAME).smoke
    extra = " ".join(f"--set {k}={v}" for k, v in smoke.items())
    whole = run_experiment(NAME, device="cpu", out=tmp_path / "whole", progress=False, overrides=dict(smoke))
    wheels = _dummy_wheel(tmp_path)
    # a limit far below any unit of work: every command does one unit, checkpoints and stops (exit 75), however
    # fast the machine (with 1 s an idle fast machine finished the smoke run in the first command)
    env = {**os.environ, "PYTHON": sys.executable, "PRESET": "quick", "DEVICE": "cpu", "TIME_LIMIT": "0.001",
           "EXTRA": extra, "WHEELS": str(wheels), "SITE": str(tmp_path / "site"), "EXPORT": str(tmp_path / "export"),
           "MAXENTRL_PROGRESS": "0"}
    run_dir = tmp_path / "run"
    codes = []
    for _ in range(30):
        proc = subprocess.run(["bash", str(SCRIPT), NAME, str(run_dir)], env=env, capture_output=True, text=True,
                              timeout=600)
        codes.append(proc.returncode)
        assert proc.returncode in (0, 75), proc.stderr
        assert "Traceback" not in proc.stderr
        if proc.returncode == 0:
            break
    assert codes[-1] == 0 and 75 in codes, codes
    # the carried wheel was installed once into SITE
    assert (tmp_path / "site" / "carried_dep" / "__init__.py").is_file() and (tmp_path / "site" / ".installed").exists()
    stem = f"{NAME}_quick_seed0"
    assert (run_dir / f"{stem}.json").read_bytes() == (tmp_path / "whole" / f"{stem}.json").read_bytes()
    assert (tmp_path / "export" / f"{stem}.json").read_bytes() == (run_dir / f"{stem}.json").read_bytes()
    assert not (run_dir / f"{stem}.ckpt").exists()
    assert whole["c21_triples"] == int(smoke["contraction_triples"])


def test_recipe_without_wheels_or_with_bad_input_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "WHEELS": str(tmp_path / "none"),
           "SITE": str(tmp_path / "site"), "MAXENTRL_PROGRESS": "0"}
    proc = subprocess.run(["bash", str(SCRIPT), "no_such_experiment", str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: unknown experiment 'no_such_experiment' "
                                                f"(known: {', '.join(sorted(__import__('maxentrl.experiments', fromlist=['load_all']).load_all()))})"]
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "usage: run_full.sh NAME" in proc.stderr


def test_gather_script_lists_pinned_wheels() -> None:
    reqs = [line.strip() for line in (ROOT / "scripts" / "gpu" / "requirements-gpu.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert reqs and all("==" in r for r in reqs)  # pinned: the same wheels every time
    text = (ROOT / "scripts" / "gpu" / "gather_wheels.sh").read_text()
    assert "--python-version 3.12" in text and "--no-deps" in text
