"""Chapter 1's experiment plumbing: its four claims are independent stages that several processes can share."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from maxentrl.experiments import get_experiment
from maxentrl.experiments.ch01_boltzmann import STAGES

NAME = "ch01_boltzmann"


def _cli(out, *extra: str) -> subprocess.CompletedProcess:
    sets = [a for k, v in get_experiment(NAME).smoke.items() for a in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "maxentrl.experiments", NAME, "--device", "cpu", "--seed", "3", "--out", str(out),
           "--no-progress", *sets, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MAXENTRL_PROGRESS": "0"}, timeout=600)


def test_the_stages_are_the_claims() -> None:
    assert get_experiment(NAME).stage_names == tuple(name for name, _ in STAGES) == ("C1.1", "C1.2", "C1.3", "C1.4")


def test_claims_split_over_processes_and_merged_give_the_same_files(tmp_path) -> None:
    whole = _cli(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    parts = {"a": "C1.1,C1.3", "b": "C1.2", "c": "C1.4"}  # the full preset's two long claims apart
    for folder, stages in parts.items():
        proc = _cli(tmp_path / folder, "--stages", stages)
        assert proc.returncode == 75 and "left to other processes" in proc.stderr, proc.stderr
        assert not list((tmp_path / folder).glob("*.json"))
    ckpt = f"{NAME}_quick_seed3.ckpt"
    merged = _cli(tmp_path / "merged", *[a for f in parts for a in ("--merge", str(tmp_path / f / ckpt))])
    assert merged.returncode == 0, merged.stderr

    def files(folder):
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".provenance.json")}

    assert files(tmp_path / "merged") == files(tmp_path / "whole")
    prov = json.loads((tmp_path / "merged" / f"{NAME}_quick_seed3.provenance.json").read_text())
    assert len(prov["segments"]) == 4


class _Cut(Exception):
    pass


class _Bar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Context:
    """What bandit_check needs of a run's context; ``cut_at``: stop at the first checkpoint of that learner."""

    def __init__(self, restored: dict | None = None, cut_at: int | None = None) -> None:
        import torch

        self.device, self._restored, self.cut_at, self.saved = torch.device("cpu"), restored, cut_at, None

    def generator(self, stream: int):
        import torch

        return torch.Generator().manual_seed(100 + stream)

    def restored(self) -> dict | None:
        return self._restored

    def bar(self, **_) -> _Bar:
        return _Bar()

    def checkpoint_due(self) -> bool:
        return True

    def checkpoint(self, payload: dict) -> None:
        if self.cut_at is not None and payload["learner"] >= self.cut_at:
            import copy

            self.saved = copy.deepcopy(payload)
            raise _Cut


def test_a_c14_checkpoint_after_the_value_learner_keeps_its_under_tried_rows() -> None:
    import dataclasses

    import pytest

    from maxentrl.experiments.ch01_boltzmann import QUICK, bandit_check

    config = dataclasses.replace(QUICK, bandits=8, bandit_steps=200)
    whole = bandit_check(config, _Context())
    assert whole["c14_under_tried"]  # one row per temperature
    for learner in (2, 3):  # stopped inside value_rm or policy_expected, after the value learner finished
        cut = _Context(cut_at=learner)
        with pytest.raises(_Cut):
            bandit_check(config, cut)
        resumed = bandit_check(config, _Context(restored=cut.saved))
        assert resumed["c14_under_tried"] == whole["c14_under_tried"]
