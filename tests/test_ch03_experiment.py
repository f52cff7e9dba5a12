"""Chapter 3's experiment plumbing: config checks, the partial result of an unfinished run, the full-run status."""

from __future__ import annotations

import json

import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import apply_overrides, get_experiment, run_experiment
from maxentrl.experiments.ch03_soft_q_learning import STAGE_NAMES, full_run_status, save_partial
from maxentrl.experiments.harness import RunSuspended

NAME = "ch03_soft_q_learning"


def test_relations_between_fields_are_checked() -> None:
    quick = get_experiment(NAME).presets["quick"]
    with pytest.raises(ConfigError, match="mg_policy_states"):
        apply_overrides(quick, {"mg_policy_states": "65"})


def test_an_interrupted_run_yields_a_partial_result(tmp_path) -> None:
    smoke = dict(get_experiment(NAME).smoke)
    with pytest.raises(RunSuspended):
        run_experiment(NAME, device="cpu", out=tmp_path, progress=False, overrides=smoke, checkpoint_every=0,
                       time_limit=1e-3)
    path = save_partial(tmp_path / f"{NAME}_quick_seed0.ckpt", tmp_path)
    part = json.loads(path.read_text())
    assert part["preset"] == "quick" and set(part["finished_stages"]) <= set(STAGE_NAMES)
    assert part["provenance"]["segments"] and part["provenance"]["device_type"] == "cpu"


def test_full_run_status_reads_the_committed_files() -> None:
    status = full_run_status()
    assert set(status["finished"]) | set(status["to_run"]) == set(STAGE_NAMES)
    assert status["text"]
