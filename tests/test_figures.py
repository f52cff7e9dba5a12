"""The figure, table and sentence functions of maxentrl.figures run on real results and say the right things."""

from __future__ import annotations

import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from maxentrl.experiments import committed_result  # noqa: E402
from maxentrl.experiments.harness import RunResult  # noqa: E402
from maxentrl.figures import benchmarks, ch01, ch02, ch06, commit_status, describe_provenance, describe_run  # noqa: E402


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


def test_describe_run_names_preset_device_and_commit() -> None:
    prov = {"device_name": "CPU (Test, 2 threads)", "git_commit": "a" * 40, "date_utc": "2026-01-02T03:04:05+00:00",
            "wall_time_s": 12.5}
    full = RunResult("x", "full", {}, {}, prov)
    quick = RunResult("x", "quick", {}, {}, {**prov, "wall_time_s": 1.25})
    page = "b" * 40
    text = describe_run(full, page_commit=page)
    assert "full-preset" in text and "CPU (Test, 2 threads)" in text and "aaaaaaaaaa" in text and "2026-01-02" in text
    assert "commit" in describe_run(full, page_commit=page, short=True)
    assert describe_run(quick).startswith("the quick preset, run while this page was built (1.2 s on CPU (Test")
    assert "no full-preset result" in describe_run(None)
    assert "run on CPU (Test, 2 threads) on 2026-01-02" in describe_provenance(prov, page_commit=page)


# -- chapter figures and texts ----------------------------------------------------------------
def test_chapter_1_figures() -> None:
    res = _result("ch01_boltzmann")
    x = torch.linspace(0, 1, 50)
    f = torch.sin(6 * x)
    assert isinstance(ch01.boltzmann_densities(x, f, [0.1, 1.0], [f.exp(), f.exp()]), Figure)
    assert isinstance(ch01.boltzmann_policies(torch.ones(3), torch.ones(3) / 3, [0.1, 1.0], [torch.ones(3) / 3] * 2), Figure)
    taus = torch.logspace(-1, 1, 5)
    assert isinstance(ch01.soft_maximum_vs_temperature(torch.tensor([1.0, 0.0]), taus, taus, taus), Figure)
    for make in (ch01.finite_differences, ch01.mirror_ascent, ch01.bandit_learning):
        assert isinstance(make(res, res), Figure) and isinstance(make(res, None), Figure)
    table = ch01.bandit_table(res)
    assert table.count("\n") + 1 == len(res["c14_table"]) and "policy-based" in table


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
    from maxentrl.irl.roads import FEATURE_NAMES, load_road_network

    res = _result("ch06_maxent_irl")
    net = load_road_network()
    mdp, *_ = label_bias_example()
    figs = [ch06.path_counts([2, 4], [1.0, 5.0], [2], [1], side=2, actions=8), ch06.label_bias(mdp, [1 / 3] * 3, [0.25, 0.25, 0.5]),
            ch06.road_network(net, FEATURE_NAMES), ch06.feature_matching(res), ch06.learned_costs(res, res),
            ch06.destination_prediction(res, None)]
    assert all(isinstance(f, Figure) for f in figs)
    sentences = ch06.table1_sentences(res)
    assert sentences["ranks"].startswith("MaxEnt comes ") and "standard errors" in sentences["pair_verdict"]
    assert "two standard errors" in sentences["lp_verdict"]
    assert "No full-preset result" in ch06.table1_full_verdict(None)
    assert "nats per route" in ch06.table1_full_verdict(res)
    assert len(ch06.table1_full_lines(res).splitlines()) == len(res["table1"])
    costs = ch06.cost_sentences(res, net.mdp.state_features.numpy())
    assert 0 < costs["lane_ref_share"] < 100 and "turn types" in costs["order_turns"]
    assert len(ch06.enumeration_table(res).splitlines()) == len(res["enumeration"]) + 1
    assert "linear" in ch06.scaling_sentence(1.0) and "scatter" in ch06.scaling_sentence(1.6)


# -- benchmarks appendix ------------------------------------------------------------------------
def test_benchmark_summaries_figures_and_provenance() -> None:
    svi = benchmarks.load_benchmark("soft_value_iteration")
    irl = benchmarks.load_benchmark("maxent_irl")
    if svi is None or irl is None:
        pytest.skip("benchmarks not committed")
    s = benchmarks.soft_value_iteration_summary(svi)
    assert s["bandwidth_gbs"] > 0 and 0 < s["largest_fraction"] and s["bmm_over_mv"] > 0
    m = benchmarks.maxent_irl_summary(irl)
    assert m["states"] == max(r["states"] for r in irl["rows"]) and m["sweeps_per_s"] > 0
    assert isinstance(benchmarks.soft_value_iteration_figure(svi), Figure)
    assert isinstance(benchmarks.maxent_irl_figure(irl), Figure)
    assert len(benchmarks.maxent_irl_table(irl).splitlines()) == len(irl["rows"]) + 1
    assert "GB/s" in benchmarks.soft_value_iteration_table(svi)
    where = benchmarks.provenance_sentence(irl)
    assert irl["provenance"]["device_name"] in where and "commit" in where


def test_missing_benchmark_is_none(tmp_path: Path) -> None:
    assert benchmarks.load_benchmark("nothing", root=tmp_path) is None
