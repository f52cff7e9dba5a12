"""The experiment harness: presets, overrides, provenance, atomic results, checkpoints."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from maxentrl.errors import ConfigError, require_positive
from maxentrl.experiments import REGISTRY, Experiment, RunContext, load_result, register, run_experiment
from maxentrl.experiments.harness import apply_overrides
from maxentrl.provenance import atomic_write_json, to_jsonable


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    """A toy config for the harness tests."""

    steps: int = 5
    """Loop length."""
    tau: float = 1.0
    """A temperature."""
    taus: tuple[float, ...] = (0.5, 1.0)
    """Several temperatures."""
    crash_at: int = -1
    """Raise at this step (simulates an interrupted run); -1 never."""
    cpu_threads: int = 0
    """Torch threads on the CPU (0: default)."""

    def __post_init__(self) -> None:
        require_positive("tau", self.tau)
        for t in self.taus:
            require_positive("tau", t)


def _toy_run(config: ToyConfig, ctx: RunContext) -> dict:
    g = ctx.generator(0)
    state = ctx.load_checkpoint() or {"step": 0, "total": torch.zeros((), device=ctx.device), "rng": g.get_state()}
    resumed_from = state["step"]
    g.set_state(state["rng"])  # a resumed run continues the same random stream
    for step in ctx.bar(range(state["step"], config.steps), desc="toy"):
        if step == config.crash_at:
            raise RuntimeError("simulated crash")
        state["total"] = state["total"] + torch.rand((), generator=g, device=ctx.device)
        state["step"] = step + 1
        state["rng"] = g.get_state()
        ctx.save_checkpoint(state)
    return {
        "total": state["total"],
        "resumed_from": resumed_from,
        "curve": [{"step": i, "value": float(i) * config.tau} for i in range(3)],
        "draw": torch.rand(3, generator=ctx.generator(1), device=ctx.device),
        "threads": torch.get_num_threads(),
    }


@pytest.fixture(autouse=True)
def toy_experiment():
    exp = register(
        Experiment(
            name="toy",
            chapter=0,
            summary="harness test",
            config_type=ToyConfig,
            presets={"quick": ToyConfig(), "full": ToyConfig(steps=20)},
            run=_toy_run,
        )
    )
    yield exp
    REGISTRY.pop("toy", None)


def test_result_has_provenance_and_is_written_atomically(tmp_path: Path) -> None:
    result = run_experiment("toy", preset="quick", device="cpu", seed=3, out=tmp_path, progress=False)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["toy_quick_seed3.json", "toy_quick_seed3_curve.csv"]  # no temp or checkpoint left
    data = json.loads((tmp_path / "toy_quick_seed3.json").read_text())
    for key in ("preset", "seed", "device", "device_name", "torch_version", "git_commit", "wall_time_s", "date_utc"):
        assert key in data["provenance"], key
    assert data["config"] == {"steps": 5, "tau": 1.0, "taus": [0.5, 1.0], "crash_at": -1, "cpu_threads": 0}
    assert (tmp_path / "toy_quick_seed3_curve.csv").read_text().splitlines()[0] == "step,value"
    again = load_result(tmp_path / "toy_quick_seed3.json")
    assert again["total"] == pytest.approx(result["total"])


def test_same_seed_same_numbers_and_different_seed_different() -> None:
    a = run_experiment("toy", device="cpu", seed=1, progress=False)
    b = run_experiment("toy", device="cpu", seed=1, progress=False)
    c = run_experiment("toy", device="cpu", seed=2, progress=False)
    assert a["total"] == b["total"] and a["draw"] == b["draw"]
    assert a["total"] != c["total"]


def test_interrupted_run_resumes_from_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment("toy", device="cpu", out=tmp_path, progress=False, overrides={"crash_at": 3})
    assert (tmp_path / "toy_quick_seed0.ckpt").exists()
    resumed = run_experiment("toy", device="cpu", out=tmp_path, progress=False)
    assert resumed["resumed_from"] == 3
    fresh = run_experiment("toy", device="cpu", progress=False)
    assert resumed["total"] == pytest.approx(fresh["total"])  # same stream, same answer
    assert not (tmp_path / "toy_quick_seed0.ckpt").exists()


def test_overrides_are_parsed_to_field_types() -> None:
    config = apply_overrides(ToyConfig(), {"steps": "7", "tau": "0.25", "taus": "0.1,2"})
    assert config == ToyConfig(steps=7, tau=0.25, taus=(0.1, 2.0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"overrides": {"tau": "-1"}}, "tau must be positive"),
        ({"overrides": {"taus": "0.5,0"}}, "tau must be positive"),
        ({"overrides": {"nope": "1"}}, "has no field 'nope'"),
        ({"overrides": {"steps": "many"}}, "cannot read 'many' as int"),
        ({"device": "tpu"}, "device must be one of"),
    ],
)
def test_bad_input_is_a_one_line_config_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        run_experiment("toy", progress=False, **kwargs)
    assert "\n" not in str(info.value)


def test_unknown_experiment_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown experiment 'nope'.*toy"):
        run_experiment("nope")


def test_jsonable_handles_tensors_and_nan(tmp_path: Path) -> None:
    obj = {"t": torch.tensor([1.0, 2.0], dtype=torch.float64), "nan": float("nan"), "tup": (1, 2)}
    assert to_jsonable(obj) == {"t": [1.0, 2.0], "nan": None, "tup": [1, 2]}
    atomic_write_json(tmp_path / "x" / "y.json", obj)
    assert json.loads((tmp_path / "x" / "y.json").read_text())["t"] == [1.0, 2.0]


def test_cpu_threads_apply_during_the_run_only() -> None:
    before = torch.get_num_threads()
    result = run_experiment("toy", device="cpu", progress=False, overrides={"cpu_threads": "1"})
    assert result["threads"] == 1
    assert torch.get_num_threads() == before
