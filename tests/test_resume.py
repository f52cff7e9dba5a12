"""Every experiment, killed at several moments and started again, ends with byte-identical result files.

Each experiment's ``smoke`` setting (a few seconds, every stage and checkpointed
loop still run) is run three ways through the command line: uninterrupted;
killed with SIGKILL at up to four random points and restarted with the same
command until it finishes; stopped with SIGTERM (exit 75) and with ``--time-limit``, then
resumed. The result files (everything but the provenance file) must match byte
for byte, and no temporary file or checkpoint may be left behind.
"""

from __future__ import annotations

import concurrent.futures
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from maxentrl.experiments import load_all

EXPERIMENTS = load_all()
NAMES = sorted(EXPERIMENTS)
EXIT_SUSPENDED = 75


def _command(name: str, out: Path, *extra: str) -> list[str]:
    sets = [arg for key, value in EXPERIMENTS[name].smoke.items() for arg in ("--set", f"{key}={value}")]
    return [sys.executable, "-m", "maxentrl.experiments", name, "--device", "cpu", "--seed", "3", "--out", str(out),
            "--no-progress", *sets, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "MAXENTRL_PROGRESS": "0", "PYTHONUNBUFFERED": "1"}


def _results(folder: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".provenance.json")}
    assert not [n for n in files if n.endswith((".tmp", ".ckpt"))], sorted(files)
    return files


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    folders = {name: tmp_path_factory.mktemp(f"{name}_whole") for name in NAMES}

    def run(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(_command(name, folders[name]), capture_output=True, text=True, env=_env(), timeout=600)

    # the reference runs are independent: two at a time (most of each is the interpreter starting up)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(NAMES, pool.map(run, NAMES)))
    for name, proc in procs.items():
        assert proc.returncode == 0, proc.stderr
    return {name: _results(folders[name]) for name in NAMES}


def _kill_when_checkpointed(cmd: list[str], ckpt: Path, rng: random.Random, *, writes: int) -> int | None:
    """Start ``cmd``; SIGKILL it a random moment after its ``writes``-th checkpoint write; None if it finished first."""
    before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    seen, last = 0, before
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        now = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        if now is not None and now != last:
            seen, last = seen + 1, now
            if seen >= writes:
                time.sleep(rng.uniform(0.0, 0.3))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return None
        time.sleep(0.005)
    proc.wait(timeout=60)
    return proc.returncode


def _sigkill_then_resume(name: str, out: Path) -> int:
    """Kill ``name``'s smoke run with SIGKILL at up to four random moments, then let it finish; returns the kills."""
    rng = random.Random(name)
    ckpt = out / f"{name}_quick_seed3.ckpt"
    cmd = _command(name, out, "--checkpoint-every", "0")
    kills = 0
    for attempt in range(4):  # each attempt gets further: it resumes and dies after later checkpoint writes
        code = _kill_when_checkpointed(cmd, ckpt, rng, writes=rng.randint(1, 3))
        if code is not None:
            assert code == 0
            break
        kills += 1
    else:  # the rest at the default checkpoint interval (a write at every step costs minutes, not coverage)
        proc = subprocess.run(_command(name, out), capture_output=True, text=True, env=_env(), timeout=600)
        assert proc.returncode == 0, proc.stderr
    return kills


def _sigterm_and_time_limit_then_resume(name: str, out: Path) -> list[int]:
    """Stop ``name``'s smoke run with SIGTERM, then with time limits, then let it finish; returns the exit codes."""
    ckpt = out / f"{name}_quick_seed3.ckpt"
    proc = subprocess.Popen(_command(name, out, "--checkpoint-every", "0"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_env(), text=True)
    while proc.poll() is None and not ckpt.exists():
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 0:  # it may have finished before the signal arrived
        assert proc.returncode == EXIT_SUSPENDED, err
        assert "run the same command again" in err and "Traceback" not in err
    # then a command whose time limit has passed when its first stage ends (it must stop there, exit 75),
    # and a command with a one-second limit that resumes it, then one with room to finish
    codes = []
    for limit in ["0.001", "1", "600"]:
        done = subprocess.run(_command(name, out, "--time-limit", limit), capture_output=True, text=True,
                              env=_env(), timeout=600)
        codes.append(done.returncode)
        if done.returncode == 0:
            break
        assert done.returncode == EXIT_SUSPENDED, done.stderr
    return codes


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Any, Path | None, BaseException | None]]:
    """Both interrupted ways of running every experiment, two runs at a time (each run is its own processes and
    folder; most of a smoke run is the interpreter starting up). ``(way, name)`` → (outcome, folder, error)."""
    ways = {"sigkill": _sigkill_then_resume, "sigterm": _sigterm_and_time_limit_then_resume}
    jobs = [(way, name) for name in NAMES for way in ways]

    def run(job: tuple[str, str]) -> tuple[Any, Path | None, BaseException | None]:
        way, name = job
        out = tmp_path_factory.mktemp(f"{name}_{way}") / "cut"
        try:
            return ways[way](name, out), out, None
        except BaseException as err:  # reported by the test of this experiment, not by the fixture
            return None, None, err

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(run, jobs)))


def _outcome(interrupted: dict, way: str, name: str) -> tuple[Any, Path]:
    outcome, out, err = interrupted[(way, name)]
    if err is not None:
        raise err
    return outcome, out


@pytest.mark.parametrize("name", NAMES)
def test_sigkill_at_several_moments_then_resume_is_byte_identical(
    name: str, interrupted: dict, uninterrupted: dict[str, dict[str, bytes]]
) -> None:
    kills, out = _outcome(interrupted, "sigkill", name)
    assert kills >= 2, f"{name}: the smoke run finished before it could be killed twice"
    assert _results(out) == uninterrupted[name]


@pytest.mark.parametrize("name", NAMES)
def test_sigterm_and_time_limit_suspend_then_resume_is_byte_identical(
    name: str, interrupted: dict, uninterrupted: dict[str, dict[str, bytes]]
) -> None:
    codes, out = _outcome(interrupted, "sigterm", name)
    assert codes[-1] == 0 and codes[0] == EXIT_SUSPENDED, codes
    assert _results(out) == uninterrupted[name]
