"""The figure, table and sentence functions of maxentrl.figures run on real results and say the right things."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from maxentrl.experiments import committed_result  # noqa: E402
from maxentrl.experiments.harness import RunResult  # noqa: E402
from maxentrl.figures import benchmarks, ch01, ch02, ch06, commit_status, describe_provenance, describe_run, device_label  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result(name: str) -> RunResult:
    result = committed_result(name)
    if result is None:
        pytest.skip(f"no committed result of {name}")
    return result


# -- which run a figure shows ------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A repository with a package folder and three commits: code, presentation only, code again."""
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "a@b.c")
    _git(tmp_path, "config", "user.name", "a")
    pkg = tmp_path / "pkg"
    (pkg / "figures").mkdir(parents=True)
    (pkg / "model.py").write_text("x = 1\n")
    (pkg / "figures" / "plot.py").write_text("y = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "one")
    (pkg / "figures" / "plot.py").write_text("y = 2\n")
    _git(tmp_path, "commit", "-qam", "two: presentation only")
    (pkg / "model.py").write_text("x = 2\n")
    _git(tmp_path, "commit", "-qam", "three: computing code")
    return tmp_path


def test_commit_status_counts_commits_and_ignores_presentation_code(repo: Path) -> None:
    one, two, three = _git(repo, "rev-list", "--reverse", "HEAD").split()
    pkg = repo / "pkg"
    assert commit_status(three, code_dir=pkg).same
    at_two = commit_status(two, code_dir=pkg)
    assert (at_two.behind, at_two.code_changed) == (1, True)
    assert "1 commit before the commit this page was built from" in at_two.sentence()
    assert "has changed since" in at_two.sentence()
    _git(repo, "reset", "-q", "--hard", two)
    at_one = commit_status(one, code_dir=pkg)
    assert (at_one.behind, at_one.code_changed) == (1, False)  # only a figure module changed
    assert "has not changed since" in at_one.sentence()


def test_commit_status_of_unknown_and_dirty_commits(repo: Path) -> None:
    pkg = repo / "pkg"
    stranger = commit_status("0" * 40, code_dir=pkg)
    assert stranger.behind is None and "does not contain" in stranger.sentence()
    head = _git(repo, "rev-parse", "HEAD")
    dirty = commit_status(head + "+dirty", code_dir=pkg)
    assert dirty.same and "uncommitted changes" in dirty.sentence()
    assert "not known" in commit_status(head, page_commit="unknown", code_dir=pkg).sentence()


def test_sentences_for_a_generated_notebook(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tools/sync_notebooks.py runs the chapters for the Colab notebooks with MAXENTRL_PAGE=notebook
    pkg = repo / "pkg"
    one = _git(repo, "rev-list", "--reverse", "HEAD").split()[0]
    monkeypatch.setenv("MAXENTRL_PAGE", "notebook")
    status = commit_status(one, code_dir=pkg)
    assert status.page == "unknown" and "the commit of this page is not known" in status.sentence()
    quick = RunResult(name="x", preset="quick", config={}, results={},
                      provenance={"wall_time_s": 12.3, "device_name": "CPU (a machine)"})
    assert describe_run(quick) == "the quick preset, which the cells of this notebook run"
    assert "a machine" not in describe_run(quick, short=True) and "12" not in describe_run(quick)
    monkeypatch.delenv("MAXENTRL_PAGE")
    assert commit_status(one, code_dir=pkg).behind == 2
    assert "12 s on CPU (a machine)" in describe_run(quick)


def test_describe_run_names_preset_device_and_commit() -> None:
    prov = {"device_name": "CPU (Test, 2 threads)", "git_commit": "a" * 40, "date_utc": "2026-01-02T03:04:05+00:00",
            "wall_time_s": 12.5}
    full = RunResult("x", "full", {}, {}, prov)
    quick = RunResult("x", "quick", {}, {}, {**prov, "wall_time_s": 1.25})
    page = "b" * 40
    text = describe_run(full, page_commit=page)
    assert "full-preset" in text and "CPU (Test, 2 threads)" in text and "aaaaaaaaaa" in text and "2026-01-02" in text
    one = RunResult("x", "full", {}, {}, {**prov, "device_name": "CPU (Test, 1 threads)"})
    assert "CPU (Test, 1 thread)," in describe_run(one, page_commit=page, short=True)
    assert "commit" in describe_run(full, page_commit=page, short=True)
    assert describe_run(quick).startswith("the quick preset, run for this page (1.2 s on CPU (Test")
    assert "no full-preset result" in describe_run(None)
    split = RunResult("x", "full", {}, {}, {**prov, "command": "python -m maxentrl.experiments x --merge a --merge b"})
    assert "(12 s summed over the 2 processes it was split into, run on" in describe_run(split, page_commit=page)
    assert "run on CPU (Test, 2 threads) on 2026-01-02" in describe_provenance(prov, page_commit=page)
    # a run whose config set its CPU threads ran on that many, whatever the record of the process around it says
    pinned = RunResult("x", "full", {"cpu_threads": 1}, {}, {**prov, "device": "cpu"})
    assert "run on CPU (Test, 1 thread) on 2026-01-02" in describe_run(pinned, page_commit=page)
    assert "full preset, CPU (Test, 1 thread), commit" in describe_run(pinned, page_commit=page, short=True)
    assert device_label({"device_name": "CPU (Test, 1 thread)", "device": "cpu"}, {"cpu_threads": 4}) == "CPU (Test, 4 threads)"
    assert device_label({"device_name": "NVIDIA H100", "device": "cuda"}, {"cpu_threads": 1}) == "NVIDIA H100"
    assert device_label(prov, {"cpu_threads": 0}) == "CPU (Test, 2 threads)"  # 0: torch's default, as recorded


# -- chapter figures and texts ----------------------------------------------------------------
def _ch01_current() -> RunResult:
    """A chapter 1 result with every learner of this version: the committed full run if it has them, else a
    smoke run of the quick preset."""
    from maxentrl.experiments import get_experiment, run_experiment

    full = committed_result("ch01_boltzmann")
    if ch01.has_current_bandit_learners(full) and "c12_plain_kl_curve" in full.results:
        return full
    smoke = dict(get_experiment("ch01_boltzmann").smoke)
    return run_experiment("ch01_boltzmann", preset="quick", device="cpu", progress=False, overrides=smoke)


def test_chapter_1_figures() -> None:
    res = _ch01_current()
    x = torch.linspace(0, 1, 50)
    f = torch.sin(6 * x)
    assert isinstance(ch01.boltzmann_densities(x, f, [0.1, 1.0], [f.exp(), f.exp()]), Figure)
    assert isinstance(ch01.boltzmann_policies(torch.ones(3), torch.ones(3) / 3, [0.1, 1.0], [torch.ones(3) / 3] * 2), Figure)
    taus = torch.logspace(-1, 1, 5)
    assert isinstance(ch01.soft_maximum_vs_temperature(torch.tensor([1.0, 0.0]), taus, taus, taus), Figure)
    old = committed_result("ch01_boltzmann")
    for make in (ch01.finite_differences, ch01.mirror_ascent, ch01.bandit_learning):
        assert isinstance(make(res, res), Figure) and isinstance(make(res, None), Figure)
        if old is not None:  # a committed full run made before the current learners is drawn where it can be
            assert isinstance(make(res, old), Figure)
    assert isinstance(ch01.logit_ascent(res), Figure)
    table = ch01.bandit_table(res)
    assert table.count("\n") + 1 == len(res["c14_table"]) and "Robbins-Monro" in table and "tail slope" in table


def test_chapter_1_numbers_and_sentences() -> None:
    res = _ch01_current()
    plain = ch01.logit_ascent_summary(res)
    assert plain["steps"] == res["c12_plain_steps"][-1] and plain["kl_lo"] <= plain["kl_hi"]
    assert plain["slope_lo"] <= plain["slope_hi"] and plain["ratio"] > 1
    if plain["mirror_steps"] is None:  # a smoke run too short for mirror ascent to pass 1e-8
        assert np.isnan(plain["times"]) and max(res["c12_kl_curve"][-1]) >= 1e-8
    else:
        assert plain["times"] == plain["steps"] / plain["mirror_steps"] and plain["mirror_steps"] <= len(res["c12_kl_curve"])
    rates = ch01.bandit_rates(res)
    taus = res["c14_taus"]
    for name, _ in ch01.BANDIT_LEARNERS:
        assert len(rates[f"{name}_slopes"].split(", ")) == len(taus)
        assert len(rates[f"{name}_ratios"].split(", ")) == len(taus)
    assert rates["taus"] == ", ".join(map(str, taus)) and rates["worst"] > 0 and rates["drop"] > 1
    assert "No full-preset result" in ch01.full_run_note(None)
    assert "dotted curves below" in ch01.full_run_note(res)
    assert ch01.under_tried_sentence(RunResult("ch01_boltzmann", "full", {}, {"c14_under_tried": []}, {}), [0.25]) == ""
    verdicts = ch01.bandit_verdicts(res)
    rows = {(r["learner"], r["tau"]): r for r in res["c14_table"]}
    assert f"{rows[('value_rm', min(taus))]['final_kl']:.1e}" in verdicts["rm"]
    assert "1/k" in verdicts["policy"] and "predicted line" in verdicts["value"]
    flat = {**res.results, "c14_table": [{**r, "tail_slope": -0.5, "k_kl_over_constant": 9.0} for r in res["c14_table"]]}
    flat_verdicts = ch01.bandit_verdicts(flat)
    assert "not yet on the predicted line at any temperature" in flat_verdicts["value"]
    assert "more slowly than 1/k at every temperature" in flat_verdicts["policy"]
    full_rates = ch01.full_run_rates(res)
    assert f"{plain['kl_hi']:.1e}" in full_rates["c12"] and rates["value_slopes"] in full_rates["c14"]
    assert all("No full-preset result" in text for text in ch01.full_run_rates(None).values())
    # the exact-gradient learner's clause: its slopes and k·KL/c, and its share of the sampled learner's KL, to one
    # decimal below 1%
    twin = [{**r, "learner": "policy_expected", "final_kl": r["final_kl"] * s, "tail_slope": -1.25,
             "k_kl_over_constant": 0.5} for r, s in zip([r for r in res["c14_table"] if r["learner"] == "policy"],
                                                        (0.7, 0.18, 0.0017))]
    with_twin = {**res.results, "c14_table": [r for r in res["c14_table"] if r["learner"] != "policy_expected"] + twin}
    assert len(taus) == 3 and ch01._twin_rates(with_twin) == (
        "; policy-based, exact gradient: slopes -1.25, -1.25, -1.25, k KL/c = 0.50, 0.50, 0.50, a final divergence "
        "70%, 18%, 0.2% of the sampled learner's")
    without = {**res.results, "c14_table": [r for r in res["c14_table"] if r["learner"] != "policy_expected"]}
    assert ch01._twin_rates(without) == ""
    old = committed_result("ch01_boltzmann")
    if old is not None and not ch01.has_current_bandit_learners(old):
        assert "not shown" in ch01.full_run_note(old) and "earlier step schedules" in ch01.full_run_rates(old)["c14"]


def test_chapter_2_figures_and_tables() -> None:
    from maxentrl.experiments.ch02_soft_bellman import bimodal_q

    R = _result("ch02_soft_bellman").results
    for fig in (ch02.contraction(R), ch02.policy_iteration(R), ch02.hard_limit(R), ch02.gridworld_visits(R),
                ch02.importance_sampling(R, bimodal_q, 0.5)):
        assert isinstance(fig, Figure)
    assert len(ch02.monte_carlo_table(R).splitlines()) == len(R["c22_table"]) + 1
    assert len(ch02.gridworld_table(R).splitlines()) == len(R["c25_table"]) + 1
    both = ch02.quick_full_table(R, R)
    assert len(both.splitlines()) == len(ch02.QUICK_FULL_ROWS) + 1


def test_chapter_6_figures_and_sentences() -> None:
    from maxentrl.irl.baselines import label_bias_example
    from maxentrl.irl.city import grid_city
    from maxentrl.irl.roads import FEATURE_NAMES, load_road_network

    res = _result("ch06_maxent_irl")
    net = load_road_network()
    mdp, *_ = label_bias_example()
    figs = [ch06.path_counts([2, 4], [1.0, 5.0], [2], [1], side=2, actions=8), ch06.label_bias(mdp, [1 / 3] * 3, [0.25, 0.25, 0.5]),
            ch06.road_network(net, FEATURE_NAMES), ch06.road_network(grid_city(2, 5, exit_every=2), FEATURE_NAMES),
            ch06.feature_matching(res), ch06.learned_costs(res, res), ch06.destination_prediction(res, None),
            ch06.branching(res, res), ch06.branching(res, None)]
    assert all(isinstance(f, Figure) for f in figs)
    sentences = ch06.table1_sentences(res)
    assert sentences["ranks"].startswith("MaxEnt comes ") and "standard errors" in sentences["pair_verdict"]
    assert "standard errors" in sentences["lp_verdict"] and sentences["bins"].count("nats of branching") == 3
    assert "No full-preset result" in ch06.table1_full_verdict(None)
    assert ch06.has_mechanism(res) and "nats per route" in ch06.table1_full_verdict(res)
    assert len(ch06.table1_full_lines(res).splitlines()) == len(res["table1"])
    recovery = ch06.cost_recovery_sentence(res, res)
    assert f"{res['cost_correlation']:.3f}" in recovery and "full run" in recovery
    assert "full run" not in ch06.cost_recovery_sentence(res, None)
    costs = ch06.cost_sentences(res, net.mdp.state_features.numpy())
    assert 0 < costs["lane_ref_share"] < 100 and "turn types" in costs["order_turns"]
    assert len(ch06.enumeration_table(res).splitlines()) == len(res["enumeration"]) + 1
    assert "linear" in ch06.scaling_sentence(1.0) and "scatter" in ch06.scaling_sentence(1.6)
    mech = ch06.mechanism_numbers(res, res)
    assert mech["city0_rows"] == res["mechanism"][0]["district_rows"] and "full run" in mech["match_note"]
    assert "standard errors" in mech["mech_verdict"] and "standard errors" in mech["road_rise"]
    gap = ch06.road_gap_sentences(res)
    assert gap["paper_spread"] == ch06.paper_spread_sentence(res) and "-7.91" in gap["paper_spread"]
    spread = {**res.results, "table1": [{**row, "log_prob": -9.0} if row["model"] in ch06.PAPER_LOGPROB else row
                                for row in res["table1"]]}
    assert "smaller in size" in ch06.paper_spread_sentence(spread)
    assert "paper's gap" in gap["paper_gap"] and gap["road_vs_cities"].count("mean out-degree") == 1 + len(res["mechanism"])
    assert gap["branching_contrast"].count("a ratio of") == 1 and "nats of choice per segment" in gap["branching_contrast"]
    assert "full run" in ch06.summary_sentence(res, res) and "quick run" in ch06.summary_sentence(res, None)
    assert "better than the fastest route" in ch06.summary_time_sentence(res, res)
    slow = {**res.results, "table1": [{**row, "matching_pct": 0.0} if row["model"] == "MaxEnt" else row
                                      for row in res["table1"]]}
    assert ch06.summary_time_sentence(slow).startswith("not every learned model")
    assert "1.49 points over the action model" in ch06.mechanism_numbers(res, res)["match_note"]


def test_network_facts_are_computed_from_the_network() -> None:
    from maxentrl.irl.roads import FEATURE_NAMES, load_road_network

    net = load_road_network()
    facts = ch06.network_facts(net, FEATURE_NAMES)
    deg = net.mdp.out_degree()
    assert facts["states"] == net.num_states and facts["actions"] == net.mdp.num_actions
    assert (facts["one"], facts["two"]) == (int((deg == 1).sum()), int((deg == 2).sum()))
    assert facts["three_plus"] == int((deg >= 3).sum())
    assert facts["mean_degree"] == pytest.approx(float(deg.double().mean()))
    assert facts["choice_pct"] == pytest.approx(100 * float((deg >= 2).double().mean()))
    assert facts["km"] == pytest.approx(float(net.length_m.sum()) / 1000)
    assert 0 < facts["width_km"] < 10 and 0 < facts["height_km"] < 10
    assert facts["absent"].endswith(".")


def test_difference_verdict() -> None:
    assert ch06.difference_verdict(0.5, 0.1, "nats").startswith("MaxEnt leads by 0.500 ± 0.100 nats, 5.0")
    assert ch06.difference_verdict(-0.5, 0.1, "nats").startswith("the action model leads by 0.500")
    assert "within two standard errors" in ch06.difference_verdict(0.1, 0.1, "nats")


# -- benchmarks appendix ------------------------------------------------------------------------
def test_benchmark_summaries_figures_and_provenance() -> None:
    svi = benchmarks.load_benchmark("soft_value_iteration")
    irl = benchmarks.load_benchmark("maxent_irl")
    if svi is None or irl is None:
        pytest.skip("benchmarks not committed")
    s = benchmarks.soft_value_iteration_summary(svi)
    assert s["bandwidth_gbs"] > 0 and 0 < s["largest_fraction"] and s["bmm_over_mv"] > 0
    m = benchmarks.maxent_irl_summary(irl)
    assert m["states"] == max(r["states"] for r in irl["rows"]) and m["log_seconds"] > 0
    assert isinstance(benchmarks.soft_value_iteration_figure(svi), Figure)
    assert isinstance(benchmarks.maxent_irl_figure(irl), Figure)
    assert len(benchmarks.maxent_irl_table(irl).splitlines()) >= len(irl["rows"]) + 1
    assert "GB/s" in benchmarks.soft_value_iteration_table(svi)
    where = benchmarks.provenance_sentence(irl)
    assert irl["provenance"]["device_name"] in where and "commit" in where
    assert f"{m['states']:,} states" in benchmarks.maxent_irl_sentences(irl)


def test_gpu_rows_join_the_cpu_benchmark_with_their_own_provenance() -> None:
    cpu, gpu = benchmarks.load_benchmark("maxent_irl"), benchmarks.load_benchmark("maxent_irl_cuda")
    if cpu is None or gpu is None:
        pytest.skip("no GPU benchmark committed")
    both = benchmarks.with_gpu_rows(cpu, gpu)
    assert len(both["rows"]) == len(cpu["rows"]) + len(gpu["rows"]) and both["provenance"] == cpu["provenance"]
    text = benchmarks.maxent_irl_gpu_sentence(both)
    big = max((r for r in gpu["rows"] if r["dtype"] == "float64"), key=lambda r: r["states"])
    assert gpu["provenance"]["device_name"] in text and f"{1000 * big['best_s']:.0f} ms in float64" in text
    acc = gpu["accuracy"]
    err = max(acc["cuda_float64_max_rel_error_D_state"], acc["cuda_float64_max_rel_error_D_action"])
    assert f"{err:.1e} in float64" in text
    assert benchmarks.maxent_irl_gpu_sentence(cpu) == "" and benchmarks.with_gpu_rows(cpu, None) == cpu
    assert isinstance(benchmarks.maxent_irl_figure(both), Figure)


def _irl_benchmark(*, shaped: bool) -> dict:
    """A small Algorithm 1 benchmark file in the format of benchmarks/bench_maxent_irl.py (or the older one)."""
    rows = []
    for side, states, actions in ((20, 1500, 4300), (40, 6200, 17800)):
        methods = [("log", "float32", 0.02 * side), ("shaped", "float64", 0.01 * side),
                   ("shaped-1thread", "float64", 0.015 * side),
                   ("shaped-all-rows", "float64", 0.0175 * side)] if shaped else [("log", None, 0.02 * side)]
        for method, dtype, best in methods:
            row = {"device": "cpu", "side": side, "states": states, "actions": actions, "horizon": 2 * side,
                   "best_s": best, "median_s": best, "times_s": [best], "per_sweep_ms": 1000 * best / (4 * side)}
            if dtype is not None:
                row.update(method=method, dtype=dtype)
            rows.append(row)
    prov = {"device_name": "CPU (Test)", "threads": 2, "git_commit": "a" * 40, "date_utc": "2026-01-02T00:00:00+00:00"}
    if not shaped:
        return {"rows": rows, "provenance": {**prov, "dtype": "float32"}}
    accuracy = {"max_rel_error_D_state": 2e-9, "max_rel_error_D_action": 3e-9, "max_abs_error_log_Z": 1e-10,
                "log_Z_range": [-300.0, -1.0], "reference_log_float64_s": 1.0, "dijkstra_s": 0.05}
    return {"rows": rows, "accuracy": accuracy,
            "provenance": {**prov, "load_average_before": [1.5, 1.0, 1.0], "load_average_after": [1.7, 1.0, 1.0]}}


def test_algorithm_1_benchmark_in_both_formats() -> None:
    new, old = _irl_benchmark(shaped=True), _irl_benchmark(shaped=False)
    s = benchmarks.maxent_irl_summary(new)
    assert s["has_shaped"] and (s["states"], s["horizon"]) == (6200, 80)
    assert s["shaped_seconds"] == pytest.approx(0.4) and s["shaped_1thread_seconds"] == pytest.approx(0.6)
    assert s["shaped_all_rows_seconds"] == pytest.approx(0.7)
    assert s["log_seconds"] == pytest.approx(0.8) and s["max_rel_error"] == pytest.approx(3e-9)
    text = benchmarks.maxent_irl_sentences(new)
    assert "0.40 s with the shaped passes" in text and "3.0e-09 relative error" in text and "from -300 to -1" in text
    assert ("(0.05 s of it; 0.60 s with every sparse product on one thread; 0.70 s recomputing every row in every "
            "backup)") in text
    assert "load average 1.50 before and 1.70 after" in benchmarks.provenance_sentence(new)
    table = benchmarks.maxent_irl_table(new)
    assert table.count("shaped-1thread") == 2 and "Dijkstra" in table
    o = benchmarks.maxent_irl_summary(old)
    assert not o["has_shaped"] and math.isnan(o["shaped_seconds"]) and o["log_dtype"] == "float32"
    assert "predates the shaped passes" in benchmarks.maxent_irl_sentences(old)
    assert len(benchmarks.maxent_irl_table(old).splitlines()) == len(old["rows"]) + 1
    for bench in (new, old):
        assert isinstance(benchmarks.maxent_irl_figure(bench), Figure)


def test_missing_benchmark_is_none(tmp_path: Path) -> None:
    assert benchmarks.load_benchmark("nothing", root=tmp_path) is None


def test_table1_pair_verdict_names_models_ahead_level_and_behind() -> None:
    t1 = [{"model": m, "matching_pct": p, "match90_pct": p, "log_prob": lp}
          for m, p, lp in (("Time-based", 50.0, None), ("Max Margin", 60.0, None), ("Action", 61.0, -3.0),
                           ("Action (costs)", 63.0, None), ("MaxEnt", 61.5, -2.9))]
    pv = {"Time-based": {"mean_diff_pct": 11.5, "se_pct": 1.0}, "Max Margin": {"mean_diff_pct": 1.5, "se_pct": 1.0},
          "Action": {"mean_diff_pct": 0.5, "se_pct": 0.5}, "Action (costs)": {"mean_diff_pct": -1.5, "se_pct": 0.5}}
    res = {"table1": t1, "paired_vs_maxent": pv, "logprob_maxent_minus_action": 0.1,
           "logprob_maxent_minus_action_se": 0.03, "logprob_by_branching": []}
    verdict = ch06.table1_sentences(res)["pair_verdict"]
    assert verdict == ("MaxEnt's matching is higher by more than two standard errors than Time-based's; lower by "
                       "more than two standard errors than Action (costs)'s; against Max Margin and Action the "
                       "difference is within two standard errors, i.e. not established by this run")
