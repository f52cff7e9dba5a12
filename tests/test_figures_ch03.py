"""Chapter 3's figure and table functions run on a real (smoke-sized) result and the committed benchmark."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from maxentrl.experiments import get_experiment, run_experiment  # noqa: E402
from maxentrl.figures import ch03  # noqa: E402
from maxentrl.paths import data_dir  # noqa: E402


@pytest.fixture(scope="module")
def R() -> dict:
    smoke = dict(get_experiment("ch03_soft_q_learning").smoke)
    return run_experiment("ch03_soft_q_learning", device="cpu", progress=False, overrides=smoke).results


def test_every_figure_of_the_chapter(R: dict) -> None:
    figs = [ch03.svgd_1d_figure(R), ch03.amortized_figure(R), ch03.multigoal_figure(R, variant="code"),
            ch03.multigoal_figure(R, variant="paper"), ch03.goal_histogram_figure(R),
            ch03.swimmer_figure(R, finish=10.0, title="corridor")]
    assert all(isinstance(f, Figure) for f in figs)
    plt.close("all")


def test_the_swimmer_figure_draws_a_stage_still_in_training(R: dict) -> None:
    """Only DDPG's stage, without the final policy's evaluation (what a partial result holds): one row of
    panels, titled by seed only, on the budget's step axis."""
    keep = ("seed", "method", "max_forward", "crossed", "first_crossing_step")
    running = {"c34_ddpg_table": [{k: r[k] for k in keep} for r in R["c34_ddpg_table"]],
               "c34_ddpg_episodes": R["c34_ddpg_episodes"], "c34_ddpg_crossed_fraction": 0.0}
    fig = ch03.swimmer_figure(running, finish=10.0, title="in training", steps=1000)
    axes = fig.get_axes()
    assert len(axes) == len(R["c34_ddpg_table"])
    assert [ax.get_title() for ax in axes] == [f"seed {r['seed']}" for r in R["c34_ddpg_table"]]
    assert axes[0].get_xlim() == (0.0, 1000.0) and [t.get_text() for t in axes[0].get_xticklabels()] == ["0", "0.5k", "1k"]
    assert any(t.get_text() == "0% cross so far" for t in axes[-1].texts)
    plt.close("all")


def test_tables_have_one_row_per_method_and_seed(R: dict) -> None:
    goals = ch03.goal_table(R)
    assert {r["method"] for r in goals} == {"sql", "ddpg"} and all(r["none"] + sum(r[f"goal{g}"] for g in range(4)) == 8
                                                                    for r in goals)
    swim = ch03.swimmer_table(R)
    assert len(swim) == 4 and all(isinstance(r["crossed"], bool) for r in swim)


def test_scaling_figure_on_the_committed_benchmark() -> None:
    path = data_dir() / "benchmarks" / "ch03_seeds.json"
    bench = json.loads(path.read_text())
    assert {r["method"] for r in bench["rows"]} == {"sql", "ddpg"}
    assert isinstance(ch03.scaling_figure(bench), Figure)
    plt.close("all")
