"""Claims C3.1-C3.4 of chapter 3, asserted on the quick preset's result."""

from __future__ import annotations

import pytest

from maxentrl.experiments import run_experiment

NAME = "ch03_soft_q_learning"


@pytest.fixture(scope="module")
def R() -> dict:
    return run_experiment(NAME, preset="quick", device="cpu", progress=False).results


def test_c31_svgd_recovers_mode_weights_and_collapses_without_repulsion(R: dict) -> None:
    assert abs(R["c31_svgd_right_weight"] - 2 / 3) <= 0.05
    assert 0.8 < R["c31_svgd_std_left"] < 1.25 and 0.8 < R["c31_svgd_std_right"] < 1.25
    # without the repulsive term: the weights are lost and the particles shrink into a mode
    assert abs(R["c31_no_repulsion_right_weight"] - 2 / 3) > 0.3
    assert max(R["c31_no_repulsion_std_left"], R["c31_no_repulsion_std_right"]) < 0.5


def test_c32_amortized_sampler_covers_every_mode_in_proportion(R: dict) -> None:
    assert R["c32_svgd_max_weight_error"] <= 0.05
    assert min(R["c32_svgd_fractions"]) > 0
    assert sum(f > 0.01 for f in R["c32_no_repulsion_fractions"]) <= 2
    assert R["c32_no_repulsion_max_weight_error"] > 0.2


def test_c33_sql_reaches_every_goal_ddpg_commits_to_one(R: dict) -> None:
    sql, ddpg = R["c33_sql_table"], R["c33_ddpg_table"]
    assert {r["variant"] for r in sql} == {"code", "paper"} == {r["variant"] for r in ddpg}
    for r in sql:
        # the chapter follows the public code's version: there every goal takes at least 10% of 100 rollouts;
        # on the paper's version (constants of our choosing) every goal is reached, and the page reports the shares
        if r["variant"] == "code":
            assert r["min_fraction"] >= 0.10, r
        assert r["goals_reached"] == 4 and r["top_share"] <= 0.6, r
    for r in ddpg:  # every seed: most of its successful rollouts go to one goal
        assert r["reached"] > 0 and r["top_share"] >= 0.7, r
    assert max(r["top_share"] for r in sql) < min(r["top_share"] for r in ddpg)


def test_c34_every_sql_seed_crosses_the_line_some_ddpg_seeds_swim_backwards(R: dict) -> None:
    sql, ddpg = R["c34_sql_table"], R["c34_ddpg_table"]
    assert R["c34_sql_crossed_fraction"] == 1.0
    assert all(r["final_mean_x"] > 0 for r in sql)
    assert any(r["final_mean_x"] < 0 and r["final_forward_share"] == 0 for r in ddpg)
