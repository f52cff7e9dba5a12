"""The experiment harness: presets, overrides, provenance, result files, stages and exact resume."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.experiments import REGISTRY, Experiment, RunContext, load_result, register, run_experiment
from maxentrl.experiments.config import ExperimentConfig, bounded
from maxentrl.experiments.harness import RunSuspended, apply_overrides, request_stop
from maxentrl.provenance import atomic_write_json, to_jsonable


@dataclass(frozen=True)
class ToyConfig(ExperimentConfig):
    """A toy config for the harness tests."""

    steps: int = bounded(5, 1, 1000)
    """Loop length."""
    tau: float = bounded(1.0, 0.0, 10.0, open_low=True)
    """A temperature."""
    taus: tuple[float, ...] = bounded((0.5, 1.0), 0.0, 10.0, open_low=True)
    """Several temperatures."""
    cpu_threads: int = bounded(0, 0, 64)
    """Torch threads on the CPU (0: default)."""


CALLS: list[str] = []
FAULT = {"crash_at": -1, "stop_at": -1}
"""Injected faults: raise (a crash) or ask to stop (as SIGTERM does) at this step of the loop; -1 never."""


def _toy_run(config: ToyConfig, ctx: RunContext) -> dict:
    CALLS.append("run")

    def first() -> dict:
        CALLS.append("first")
        # global generators too: the harness seeds them and carries their state across stages
        return {"first": torch.rand(2, generator=ctx.generator(1)), "global": float(torch.rand(()))}

    def loop() -> dict:
        g = ctx.generator(0)
        net = torch.nn.Linear(2, 1).double()
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        state = ctx.restored() or {"step": 0, "total": 0.0}
        if state["step"]:
            net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
        CALLS.append(f"loop from {state['step']}")
        for step in range(state["step"], config.steps):
            if step == FAULT["crash_at"]:
                raise RuntimeError("simulated crash")
            if step == FAULT["stop_at"]:
                request_stop()
            x = torch.rand(4, 2, generator=g, dtype=torch.float64)
            loss = (net(x) ** 2).mean() + 0 * float(np.random.rand())
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = {"step": step + 1, "total": state["total"] + float(loss.detach()),
                     "net": net.state_dict(), "opt": opt.state_dict()}
            if ctx.checkpoint_due():
                ctx.checkpoint(state)
        return {"total": state["total"], "weight": net.weight.detach().clone(),
                "after_global": float(torch.rand(()))}

    out = dict(ctx.stage("first", first))
    out.update(ctx.stage("loop", loop))
    out["curve"] = [{"step": i, "value": float(i) * config.tau} for i in range(3)]
    out["threads"] = torch.get_num_threads()
    return out


@pytest.fixture(autouse=True)
def toy_experiment():
    exp = register(
        Experiment(name="toy", chapter=0, summary="harness test", config_type=ToyConfig,
                   presets={"quick": ToyConfig(), "full": ToyConfig(steps=20)}, run=_toy_run)
    )
    CALLS.clear()
    FAULT.update(crash_at=-1, stop_at=-1)
    yield exp
    REGISTRY.pop("toy", None)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".provenance.json")}


def test_result_file_holds_results_and_provenance_file_the_rest(tmp_path: Path) -> None:
    result = run_experiment("toy", preset="quick", device="cpu", seed=3, out=tmp_path, progress=False)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["toy_quick_seed3.json", "toy_quick_seed3.provenance.json", "toy_quick_seed3_curve.csv"]
    data = json.loads((tmp_path / "toy_quick_seed3.json").read_text())
    assert set(data) == {"experiment", "preset", "seed", "config", "results"}
    assert data["config"] == {"steps": 5, "tau": 1.0, "taus": [0.5, 1.0], "cpu_threads": 0}
    prov = json.loads((tmp_path / "toy_quick_seed3.provenance.json").read_text())
    for key in ("preset", "seed", "device", "device_name", "torch_version", "torch_cpu_kernels", "git_commit",
                "wall_time_s", "date_utc", "segments", "timings"):
        assert key in prov, key
    # the kernels torch ran on: the AVX2 ones that the Makefile and conftest pin, on any processor
    assert prov["torch_cpu_kernels"] == torch.backends.cpu.get_cpu_capability() and "AVX512" not in prov["torch_cpu_kernels"]
    assert set(prov["timings"]) == {"stage first", "stage loop"}
    assert (tmp_path / "toy_quick_seed3_curve.csv").read_text().splitlines()[0] == "step,value"
    again = load_result(tmp_path / "toy_quick_seed3.json")
    assert again["total"] == pytest.approx(result["total"]) and again.provenance["seed"] == 3 and again.seed == 3


def test_two_runs_give_byte_identical_result_files(tmp_path: Path) -> None:
    run_experiment("toy", device="cpu", seed=1, out=tmp_path / "a", progress=False)
    run_experiment("toy", device="cpu", seed=1, out=tmp_path / "b", progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    c = run_experiment("toy", device="cpu", seed=2, progress=False)
    assert c["total"] != load_result(tmp_path / "a" / "toy_quick_seed1.json")["total"]


@pytest.mark.parametrize("crash_at", [0, 1, 3, 4])
def test_crashed_run_resumes_inside_the_loop_exactly(tmp_path: Path, crash_at: int) -> None:
    run_experiment("toy", device="cpu", out=tmp_path / "whole", progress=False, overrides={"steps": "8"})
    FAULT["crash_at"] = crash_at
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment("toy", device="cpu", out=tmp_path / "cut", progress=False, checkpoint_every=0,
                       overrides={"steps": "8"})
    assert (tmp_path / "cut" / "toy_quick_seed0.ckpt").exists()
    FAULT["crash_at"] = -1
    CALLS.clear()
    run_experiment("toy", device="cpu", out=tmp_path / "cut", progress=False, overrides={"steps": "8"})
    assert "first" not in CALLS  # the finished stage came from the checkpoint
    # with checkpoint_every=0 every opportunity but a stage's first saves: after steps 2, 3, ... of the loop
    assert CALLS == ["run", f"loop from {crash_at if crash_at >= 2 else 0}"]
    assert _files(tmp_path / "cut") == _files(tmp_path / "whole")
    assert not (tmp_path / "cut" / "toy_quick_seed0.ckpt").exists()


def test_stop_request_checkpoints_and_suspends_then_resumes_exactly(tmp_path: Path) -> None:
    run_experiment("toy", device="cpu", out=tmp_path / "whole", progress=False, overrides={"steps": "9"})
    FAULT["stop_at"] = 4
    with pytest.raises(RunSuspended):
        run_experiment("toy", device="cpu", out=tmp_path / "cut", progress=False, overrides={"steps": "9"})
    ckpt = torch.load(tmp_path / "cut" / "toy_quick_seed0.ckpt", weights_only=False)
    assert ckpt["current"]["stage"] == "loop" and ckpt["current"]["state"]["step"] == 5
    FAULT["stop_at"] = -1
    CALLS.clear()
    resumed = run_experiment("toy", device="cpu", out=tmp_path / "cut", progress=False, overrides={"steps": "9"})
    assert CALLS == ["run", "loop from 5"]
    assert _files(tmp_path / "cut") == _files(tmp_path / "whole")
    prov = resumed.provenance
    assert len(prov["segments"]) == 2 and prov["wall_time_s"] == pytest.approx(sum(s["wall_time_s"] for s in prov["segments"]))


def test_time_limit_suspends_after_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(RunSuspended, match="time limit"):
        run_experiment("toy", device="cpu", out=tmp_path, progress=False, time_limit=1e-9)
    assert (tmp_path / "toy_quick_seed0.ckpt").exists()
    done = run_experiment("toy", device="cpu", out=tmp_path, progress=False)
    assert done["total"] == run_experiment("toy", device="cpu", progress=False)["total"]


def test_checkpoint_of_another_config_or_a_broken_file_is_refused_before_compute(tmp_path: Path) -> None:
    FAULT["crash_at"] = 2
    with pytest.raises(RuntimeError):
        run_experiment("toy", device="cpu", out=tmp_path, progress=False, checkpoint_every=0)
    FAULT["crash_at"] = -1
    CALLS.clear()
    with pytest.raises(ConfigError, match="different config.*tau") as info:
        run_experiment("toy", device="cpu", out=tmp_path, progress=False, overrides={"tau": "2"})
    assert CALLS == [] and "\n" not in str(info.value)
    (tmp_path / "toy_quick_seed0.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot read the checkpoint"):
        run_experiment("toy", device="cpu", out=tmp_path, progress=False)
    assert CALLS == []
    run_experiment("toy", device="cpu", out=tmp_path, progress=False, resume=False)
    assert CALLS == ["run", "first", "loop from 0"]


def test_without_an_output_folder_nothing_is_checkpointed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_experiment("toy", device="cpu", progress=False, checkpoint_every=0)
    assert list(tmp_path.iterdir()) == []


def test_overrides_are_parsed_to_field_types() -> None:
    config = apply_overrides(ToyConfig(), {"steps": "7", "tau": "0.25", "taus": "0.1,2"})
    assert config == ToyConfig(steps=7, tau=0.25, taus=(0.1, 2.0))
    assert apply_overrides(ToyConfig(), {"steps": "1e2"}).steps == 100


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"seed": -1}, "seed must be an integer in"),
        ({"seed": 2**40}, "seed must be an integer in"),
        ({"seed": True}, "seed must be an integer in"),
        ({"overrides": {"tau": "-1"}}, "tau must lie in"),
        ({"overrides": {"tau": "nan"}}, "tau must be a finite number"),
        ({"overrides": {"tau": "inf"}}, "tau must be a finite number"),
        ({"overrides": {"taus": "0.5,0"}}, "taus must lie in"),
        ({"overrides": {"taus": ""}}, "taus takes at least 1"),
        ({"overrides": {"taus": "0.5,,1"}}, "without gaps"),
        ({"overrides": {"nope": "1"}}, "has no field 'nope'"),
        ({"overrides": {"steps": "many"}}, "cannot read 'many' as int"),
        ({"overrides": {"steps": "2.5"}}, "cannot read '2.5' as int"),
        ({"overrides": {"steps": "100000000000000000000"}}, "steps must lie in"),
        ({"overrides": {"steps": 3.0}}, "steps must be an integer"),
        ({"overrides": {"tau": True}}, "tau must be a number"),
        ({"device": "tpu"}, "device must be one of"),
        ({"checkpoint_every": -1.0}, "checkpoint interval"),
        ({"time_limit": 10.0}, "needs an output folder"),
    ],
)
def test_bad_input_is_a_one_line_config_error_before_compute(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        run_experiment("toy", progress=False, **kwargs)
    assert "\n" not in str(info.value)
    assert CALLS == []


def test_unwritable_or_wrong_output_folder_is_refused_before_compute(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        run_experiment("toy", device="cpu", out=a_file, progress=False)
    with pytest.raises(ConfigError, match="cannot create the output folder"):
        run_experiment("toy", device="cpu", out=a_file / "below", progress=False)
    assert CALLS == []


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
    torch.set_num_threads(2)  # the caller has more threads than the run asks for
    try:
        result = run_experiment("toy", device="cpu", progress=False, overrides={"cpu_threads": "1"})
        assert result["threads"] == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    # the provenance names the thread count the run had, in the result and in the process's segment
    assert result.provenance["device_name"].endswith(", 1 thread)")
    assert [seg["device_name"] for seg in result.provenance["segments"]] == [result.provenance["device_name"]]


def test_stages_are_unique_and_not_nested() -> None:
    ctx = RunContext(device=torch.device("cpu"), seed=0)
    ctx.stage("a", lambda: {})
    with pytest.raises(RuntimeError, match="twice"):
        ctx.stage("a", lambda: {})
    with pytest.raises(RuntimeError, match="inside stage"):
        ctx.stage("b", lambda: ctx.stage("c", lambda: {}))
    with pytest.raises(RuntimeError, match="inside a stage"):
        ctx.checkpoint({})


def test_result_cache_reuses_a_package_run_and_keys_on_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maxentrl.experiments import get_experiment, run_experiment

    monkeypatch.setenv("MAXENTRL_RESULT_CACHE", str(tmp_path / "cache"))
    smoke = get_experiment("ch01_boltzmann").smoke
    first = run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke)
    folders = sorted((tmp_path / "cache").iterdir())
    assert len(folders) == 1 and (folders[0] / "ch01_boltzmann_quick_seed0.json").is_file()
    again = run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke)
    assert again.provenance == json.loads((folders[0] / "ch01_boltzmann_quick_seed0.provenance.json").read_text())
    assert json.dumps(again.results, sort_keys=True) == json.dumps(first.results, sort_keys=True)
    run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke, seed=1)
    assert len(list((tmp_path / "cache").iterdir())) == 2  # another seed, another entry
    run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke, out=tmp_path / "out")
    assert len(list((tmp_path / "cache").iterdir())) == 2  # a run with an output folder keeps to it


def test_a_read_only_result_cache_is_read_but_not_added_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maxentrl.experiments import get_experiment, run_experiment

    monkeypatch.setenv("MAXENTRL_RESULT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MAXENTRL_RESULT_CACHE_READ_ONLY", raising=False)
    smoke = get_experiment("ch01_boltzmann").smoke
    stored = run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke)
    monkeypatch.setenv("MAXENTRL_RESULT_CACHE_READ_ONLY", "1")
    read = run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke)
    assert read.provenance == stored.provenance  # the stored run, not a new one
    run_experiment("ch01_boltzmann", device="cpu", progress=False, overrides=smoke, seed=1)
    assert len(list((tmp_path / "cache").iterdir())) == 1  # computed, not stored


def test_result_cache_is_not_used_for_experiments_outside_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAXENTRL_RESULT_CACHE", str(tmp_path / "cache"))
    run_experiment("toy", device="cpu", progress=False)
    assert not (tmp_path / "cache").exists()
