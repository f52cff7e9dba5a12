"""Chapter 3's experiment plumbing: config checks, the partial result of an unfinished run, the full-run status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import apply_overrides, get_experiment, run_experiment
from maxentrl.experiments.ch03_soft_q_learning import STAGE_NAMES, full_run_status, partial_result, save_partial
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


def test_a_partial_result_joins_the_checkpoints_of_split_processes(tmp_path) -> None:
    smoke = {**get_experiment(NAME).smoke, "chunk": "50"}
    parts = {"a": {"C3.1"}, "b": {"C3.4 sql"}, "c": {"C3.4 ddpg"}}
    for folder, stages in parts.items():  # C3.1 finishes; each swimmer stage stops after its first chunk
        with pytest.raises(RunSuspended):
            run_experiment(NAME, device="cpu", out=tmp_path / folder, progress=False, overrides=smoke,
                           checkpoint_every=0, time_limit=1e-3 if folder != "a" else None, stages=stages)
    ckpts = [tmp_path / f / f"{NAME}_quick_seed0.ckpt" for f in parts]
    part = partial_result(*ckpts)
    assert part["finished_stages"] == ["C3.1"] and "c31_svgd_right_weight" in part["results"]
    assert [p["stage"] for p in part["in_progress"]] == ["C3.4 sql", "C3.4 ddpg"]
    seeds, finish = int(smoke["c34_seeds"]), get_experiment(NAME).presets["quick"].c34_finish
    for ip in part["in_progress"]:
        method = ip["stage"].split()[1]
        assert 0 < ip["steps"] < int(smoke["c34_steps"]) and ip["steps"] % 50 == 0
        rows, episodes = ip["results"][f"c34_{method}_table"], ip["results"][f"c34_{method}_episodes"]
        assert [r["seed"] for r in rows] == list(range(seeds)) and episodes
        for r in rows:  # each seed's farthest point is its episodes' largest max_x, crossed when past the line
            assert r["max_forward"] == max(e[2] for e in episodes if e[1] == r["seed"])
            assert r["crossed"] == (r["max_forward"] >= finish)
    segments = part["provenance"]["segments"]
    assert len(segments) == 3 and all(seg["device_name"].endswith(", 1 thread)") for seg in segments)
    assert part["provenance"]["device_name"] == segments[0]["device_name"]
    with pytest.raises(RunSuspended):
        run_experiment(NAME, device="cpu", seed=1, out=tmp_path / "d", progress=False, overrides=smoke, stages={"C3.1"})
    with pytest.raises(ConfigError, match=r"belongs to another run .*\(its seed differs\)"):
        partial_result(ckpts[0], tmp_path / "d" / f"{NAME}_quick_seed1.ckpt")
    with pytest.raises(ConfigError, match="cannot read the checkpoint"):
        partial_result(tmp_path / "nowhere.ckpt")

    # an earlier run whose checkpoints are gone: its finished stage and the progress the new checkpoint does not
    # redo are kept; the stage started again (in a new folder, from step 0) replaces its earlier progress, which is
    # kept as superseded
    earlier = json.loads(json.dumps(part))
    # a segment is known by its start (to the second), commit and wall time; these runs last milliseconds, so let the
    # new one start in a later second than the earlier ones, as any real rerun does
    time.sleep(1.0 - time.time() % 1.0 + 0.05)
    with pytest.raises(RunSuspended):
        run_experiment(NAME, device="cpu", out=tmp_path / "b2", progress=False, overrides=smoke, checkpoint_every=0,
                       time_limit=1e-3, stages={"C3.4 sql"})
    again = tmp_path / "b2" / f"{NAME}_quick_seed0.ckpt"
    joined = partial_result(again, earlier=earlier)
    assert joined["finished_stages"] == ["C3.1"] and joined["results"] == part["results"]
    assert [p["stage"] for p in joined["in_progress"]] == ["C3.4 sql", "C3.4 ddpg"]
    assert joined["in_progress"][1] == earlier["in_progress"][1]
    (old,) = joined["superseded"]
    rows = earlier["in_progress"][0]["results"]["c34_sql_table"]
    assert old == {"stage": "C3.4 sql", "steps": earlier["in_progress"][0]["steps"],
                   "elapsed_s": earlier["in_progress"][0]["elapsed_s"], "commits": earlier["provenance"]["commits"],
                   "seeds": seeds, "crossed": sum(r["crossed"] for r in rows),
                   "max_forward": max(r["max_forward"] for r in rows)}
    prov = joined["provenance"]
    assert len(prov["segments"]) == 4 and prov["wall_time_s"] == pytest.approx(
        sum(seg["wall_time_s"] for seg in prov["segments"]), abs=0.11)
    (tmp_path / "earlier.json").write_text(json.dumps(earlier))
    written = json.loads(save_partial([again], tmp_path / "out", earlier=tmp_path / "earlier.json").read_text())
    assert written["superseded"] == joined["superseded"]

    # a checkpoint that the earlier result was written from, carried on: the stage is further along, nothing is
    # superseded, and the segments the two share are counted once
    with pytest.raises(RunSuspended):
        run_experiment(NAME, device="cpu", out=tmp_path / "b", progress=False, overrides=smoke, checkpoint_every=0,
                       time_limit=1e-3, stages={"C3.4 sql"})
    carried = partial_result(ckpts[1], earlier=earlier)
    assert carried.get("superseded") == [] and carried["in_progress"][0]["stage"] == "C3.4 sql"
    assert carried["in_progress"][0]["steps"] > earlier["in_progress"][0]["steps"]
    assert carried["in_progress"][1] == earlier["in_progress"][1]
    prov = carried["provenance"]
    assert len(prov["segments"]) == 4 and len({(g["started_utc"], g["wall_time_s"]) for g in prov["segments"]}) == 4
    assert prov["wall_time_s"] == pytest.approx(sum(seg["wall_time_s"] for seg in prov["segments"]), abs=0.11)
    with pytest.raises(ConfigError, match=r"had finished C3\.1, which the checkpoints run again"):
        partial_result(ckpts[0], earlier=earlier)
    with pytest.raises(ConfigError, match=r"belongs to another run \(its seed differs\)"):
        partial_result(ckpts[1], earlier={**earlier, "seed": 1})
    with pytest.raises(ConfigError, match="cannot read the earlier partial result"):
        partial_result(ckpts[1], earlier=tmp_path / "nowhere.json")


def test_full_run_status_reads_the_committed_files() -> None:
    status = full_run_status()
    assert set(status["finished"]) | set(status["to_run"]) == set(STAGE_NAMES)
    assert status["text"]


def _cli(tmp_path, out, *extra: str) -> subprocess.CompletedProcess:
    sets = [a for k, v in get_experiment(NAME).smoke.items() for a in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "maxentrl.experiments", NAME, "--device", "cpu", "--seed", "5", "--out", str(out),
           "--no-progress", *sets, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MAXENTRL_PROGRESS": "0"}, timeout=600)


def test_stages_split_over_processes_and_merged_give_the_same_files(tmp_path) -> None:
    whole = _cli(tmp_path, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    parts = {"a": "C3.1,C3.2,C3.3 sql,C3.3 ddpg", "b": "C3.4 sql", "c": "C3.4 ddpg"}
    for folder, stages in parts.items():
        proc = _cli(tmp_path, tmp_path / folder, "--stages", stages)
        assert proc.returncode == 75 and "left to other processes" in proc.stderr, proc.stderr
        assert not list((tmp_path / folder).glob("*.json"))  # no result from a part
    ckpt = f"{NAME}_quick_seed5.ckpt"
    merged = _cli(tmp_path, tmp_path / "merged", *[a for f in parts for a in ("--merge", str(tmp_path / f / ckpt))])
    assert merged.returncode == 0, merged.stderr

    def files(folder):
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".provenance.json")}

    assert files(tmp_path / "merged") == files(tmp_path / "whole")
    prov = json.loads((tmp_path / "merged" / f"{NAME}_quick_seed5.provenance.json").read_text())
    assert len(prov["segments"]) == 4  # three parts and the merging call


def test_bad_stage_requests_are_one_line_errors(tmp_path) -> None:
    proc = _cli(tmp_path, tmp_path / "x", "--stages", "C3.9")
    assert proc.returncode == 2 and "unknown stage(s) 'C3.9'" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = subprocess.run([sys.executable, "-m", "maxentrl.experiments", "ch02_soft_bellman", "--out", str(tmp_path / "y"),
                           "--stages", "C2.1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "does not declare its stages" in proc.stderr, proc.stderr
    import torch

    from maxentrl.experiments.harness import merge_checkpoints

    part = _cli(tmp_path, tmp_path / "z", "--stages", "C3.1")
    assert part.returncode == 75, part.stderr
    ckpt = tmp_path / "z" / f"{NAME}_quick_seed5.ckpt"
    saved = torch.load(ckpt, weights_only=False)
    torch.save({**saved, "current": {"stage": "C3.2", "state": {"step": 3}}}, tmp_path / "z" / "mid.ckpt")
    with pytest.raises(ConfigError, match="'C3.2' in the middle of its loop"):
        merge_checkpoints([ckpt, tmp_path / "z" / "mid.ckpt"], tmp_path / "m")
    torch.save({**saved, "seed": 6}, tmp_path / "z" / "other.ckpt")
    with pytest.raises(ConfigError, match="its seed differs"):
        merge_checkpoints([ckpt, tmp_path / "z" / "other.ckpt"], tmp_path / "m")


def test_the_committed_full_run_is_complete_and_names_what_was_changed() -> None:
    status = full_run_status()
    if status["to_run"]:
        pytest.skip("no complete full run is committed")
    full = get_experiment(NAME).presets["full"]
    for change in status["changed"]:
        field = change.split(" = ")[0]
        assert status["config"][field] != getattr(full, field)
        assert field in status["text"]
    R = status["results"]
    assert abs(R["c31_svgd_right_weight"] - R["c31_true_right_weight"]) < 0.05 and R["c31_no_repulsion_right_weight"] < 0.05
    assert R["c32_svgd_max_weight_error"] < 0.05 < R["c32_no_repulsion_max_weight_error"]
    assert len(R["c33_sql_table"]) == len(R["c33_ddpg_table"]) == 2 * status["config"]["mg_seeds"]


def test_the_committed_run_at_the_preset_budget_is_of_the_full_preset_and_adds_up() -> None:
    from maxentrl.experiments.ch03_soft_q_learning import preset_budget_status
    from maxentrl.figures.ch03 import preset_budget_sentence

    status = preset_budget_status()
    if status is None:
        pytest.skip("no run at the preset's budget is committed")
    full = get_experiment(NAME).presets["full"]
    assert "fields changed" not in status["text"]  # every setting is the full preset's
    assert status["methods"], "the committed run has no swimmer stage"
    sentence = preset_budget_sentence(status)
    for method, mine in status["methods"].items():
        R = mine["results"]
        rows, episodes = R[f"c34_{method}_table"], R[f"c34_{method}_episodes"]
        assert 0 < mine["steps"] <= full.c34_steps and mine["finished"] == (mine["steps"] == full.c34_steps)
        assert [r["seed"] for r in rows] == list(range(full.c34_seeds))
        assert max(e[0] for e in episodes) <= mine["steps"]
        for r in rows:
            assert r["max_forward"] == max(e[2] for e in episodes if e[1] == r["seed"])
            assert r["crossed"] == (r["max_forward"] >= full.c34_finish)
        assert f"after {mine['steps']:,} of its {full.c34_steps:,}" in sentence or mine["finished"]
        assert f"{sum(r['crossed'] for r in rows)} of {full.c34_seeds} seeds crossed" in sentence


def test_the_preset_budget_sentence_says_what_is_finished_running_and_not_started() -> None:
    from maxentrl.figures.ch03 import preset_budget_sentence

    rows = [{"seed": 0, "max_forward": 3.5, "crossed": True}, {"seed": 1, "max_forward": 1.25, "crossed": False}]
    status = {"config": {"c34_steps": 1000, "c34_finish": 3.0, "c34_min_replay": 100},
              "provenance": {"device_name": "CPU (Test, 1 threads)", "commits": ["b" * 40]},
              "methods": {"ddpg": {"steps": 400, "finished": False, "elapsed_s": 7200.0,
                                   "results": {"c34_ddpg_table": rows}}}}
    text = preset_budget_sentence(status)
    assert text.startswith("It ran on CPU (Test, 1 thread), one process per method, at commit bbbbbbbbbbbb. ")
    assert "Soft Q-learning has not started; DDPG" in text
    # 2 hours for 300 steps past the 100 that fill the memory: 900 such steps take 6 hours
    assert ("DDPG stopped after 400 of its 1,000 steps per seed, 2.0 hours in, and at its pace after the first 100 "
            "(which only fill the replay memory) the whole stage takes about 6.0 hours") in text
    assert "by then 1 of 2 seeds crossed the line at 3, and the farthest forward any training episode reached is 3.50" in text
    status["methods"]["ddpg"].update(steps=50)
    assert "DDPG stopped after 50 of its 1,000 steps per seed, 2.0 hours in; by then" in preset_budget_sentence(status)
    status["superseded"] = [{"stage": "C3.4 ddpg", "steps": 300, "elapsed_s": 3600.0, "commits": ["c" * 40],
                             "seeds": 2, "crossed": 0, "max_forward": 2.5}]
    assert preset_budget_sentence(status).endswith(
        " An earlier run of the stage C3.4 ddpg, at commit cccccccccccc, had reached 300 steps per seed in 1.0 hours "
        "(0 of 2 seeds across the line, the farthest forward 2.50) when its checkpoint was lost; the run above started "
        "it again from step 0.")
    status["superseded"] = []
    status["provenance"] = {"device_name": "CPU (Test, 1 thread); CPU (Test, 2 threads)", "commits": ["b" * 40, "c" * 40]}
    assert preset_budget_sentence(status).startswith(
        "Its processes ran on CPU (Test, 1 thread) and CPU (Test, 2 threads), at commits bbbbbbbbbbbb, cccccccccccc. ")
    status["methods"]["ddpg"].update(steps=1000, finished=True)
    assert "DDPG has finished its 1,000 steps per seed in 2.0 hours: 1 of 2 seeds crossed" in preset_budget_sentence(status)
    assert preset_budget_sentence(None) == "No run of the swimmer stages at the preset's budget is committed yet."


def test_the_preset_budget_says_what_is_still_to_run() -> None:
    from maxentrl.figures.ch03 import preset_budget_to_run

    def table(method: str, *crossed: bool) -> dict:
        return {f"c34_{method}_table": [{"seed": i, "crossed": c} for i, c in enumerate(crossed)]}

    status = {"config": {"c34_seeds": 4}, "methods": {"ddpg": {"finished": True, "results": table("ddpg", 0, 0, 1, 0)},
                                                     "sql": {"finished": False, "results": table("sql", 0, 0, 0, 0)}}}
    assert preset_budget_to_run(status) == (
        "At the preset's budget, soft Q-learning is still to run to the end. A run resumes from its checkpoint, but "
        "that holds 4 replay memories (one per seed), too large to commit, so a machine that does not keep it starts "
        "the stage again from step 0.")
    status["methods"]["sql"]["finished"] = True
    assert preset_budget_to_run(status) == (
        "At the preset's budget, both swimmer stages have run to their end: 0 of 4 soft Q-learning seeds (0%) and "
        "1 of 4 DDPG seeds (25%) crossed the line, against the paper's 100% and 80% after 500 epochs of 10,000 steps "
        "(5,000,000 steps), so C3.4 does not reproduce at this budget either.")
    status["config"]["c34_finish"] = 3.0
    for m, xs in (("sql", (0.5, -0.25, 1.0, 0.75)), ("ddpg", (2.0, 1.0, -1.0, 0.0))):
        for r, x in zip(status["methods"][m]["results"][f"c34_{m}_table"], xs):
            r.update(final_mean_x=x, final_forward_share=float(x > 0))
    assert preset_budget_to_run(status).endswith(
        "so C3.4 does not reproduce at this budget either. The final policies end 75% (soft Q-learning) and 50% "
        "(DDPG) of their evaluation rollouts ahead of the start, on average at x = 0.50 and 0.50, against the line at 3.")
    status["methods"]["sql"]["results"] = table("sql", 1, 1, 1, 1)
    assert preset_budget_to_run(status).endswith("4 of 4 soft Q-learning seeds (100%) and 1 of 4 DDPG seeds (25%) "
                                                 "crossed the line, against the paper's 100% and 80% after 500 epochs "
                                                 "of 10,000 steps (5,000,000 steps), so C3.4 holds at this budget.")
    status["methods"]["ddpg"]["results"] = table("ddpg", 1, 1, 1, 1)
    assert preset_budget_to_run(status).endswith("so C3.4 holds only in part at this budget.")
    status["methods"]["sql"]["results"] = table("sql", 1, 0, 1, 1)
    status["methods"]["ddpg"]["results"] = table("ddpg", 0, 0, 0, 0)
    assert preset_budget_to_run(status).endswith("so C3.4 holds only in part at this budget.")
    del status["methods"]["sql"]
    status["methods"]["ddpg"]["finished"] = False
    assert "soft Q-learning and DDPG are still to run to the end." in preset_budget_to_run(status)
    assert preset_budget_to_run(None) == "At the preset's budget, both swimmer stages are still to run."


def test_the_preset_budget_caption_says_whether_the_stages_finished() -> None:
    from maxentrl.figures.ch03 import preset_budget_caption

    status = {"methods": {"ddpg": {"finished": True}, "sql": {"finished": False}}}
    assert preset_budget_caption(status).startswith("as far as it got (a stage stopped in training")
    status["methods"]["sql"]["finished"] = True
    assert preset_budget_caption(status) == "with both stages run to their end and their final policies evaluated"
    assert preset_budget_caption(None).startswith("as far as it got")


def test_the_committed_preset_budget_run_stops_short_of_a_line_that_a_fixed_gait_passes() -> None:
    """What the page's "How far is the line?" says of the committed run at the preset's budget."""
    pytest.importorskip("mujoco")
    from maxentrl.envs.swimmer import best_traveling_wave
    from maxentrl.experiments.ch03_soft_q_learning import preset_budget_status

    status = preset_budget_status()
    if status is None or not all(m["finished"] for m in status["methods"].values()):
        pytest.skip("no finished run at the preset's budget is committed")
    cfg = status["config"]
    rows = [r for m, mine in status["methods"].items() for r in mine["results"][f"c34_{m}_table"]]
    far = max(r["max_forward"] for r in rows)
    assert not any(r["crossed"] for r in rows) and far < cfg["c34_finish"]
    gait = best_traveling_wave(horizon=cfg["c34_horizon"])
    assert gait["forward"]["x"] > cfg["c34_finish"] > far and -gait["backward"]["x"] > cfg["c34_finish"]
    assert all(abs(r["final_mean_x"]) < cfg["c34_finish"] / 2 for r in rows)  # "a small fraction of the way"
