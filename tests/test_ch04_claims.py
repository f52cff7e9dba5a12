"""Chapter 4's claims C4.1-C4.5, asserted on one run of the quick preset.

The learning claims (C4.3-C4.5) compare learning curves over seeds. The
criteria are statistical, chosen for what they mean rather than for the
numbers one run gave:

* "learns": a rule's mean final score (the mean of the last quarter of each
  seed's curve) is at least twice the uniformly random policy's;
* "alike" (C4.3) and "no worse" (C4.4): differences in final score are judged
  against the standard error of the difference over seeds (two standard
  errors); and the mean curves lie inside each other's one-standard-deviation
  band at half the points or more (with three seeds, two identical learners
  would do so at about three points in four).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from maxentrl.experiments import run_experiment
from maxentrl.experiments.ch04_pg_soft_q import final_score


@pytest.fixture(scope="module")
def result():
    return run_experiment("ch04_pg_soft_q", preset="quick", device="cpu", seed=0, progress=False)


def _finals(result, game: str, key: str) -> list[float]:
    return [f for f in result["summary"][game][key]["finals"] if f is not None]


def _diff_in_se(a: list[float], b: list[float]) -> float:
    se = math.hypot(np.std(a, ddof=1) / math.sqrt(len(a)), np.std(b, ddof=1) / math.sqrt(len(b)))
    return (np.mean(a) - np.mean(b)) / se


def test_c41_bandit_identity(result) -> None:
    rows = {r["parametrization"]: r for r in result["c41_table"]}
    assert set(rows) == {"linear", "mlp"}
    for row in rows.values():
        assert row["instances"] >= 100
        assert row["max_abs_error"] <= 1e-10
    ex = result["c41_example"]  # the two parts are not trivially zero
    assert max(abs(x) for x in ex["policy_gradient"]) > 1e-6 and max(abs(x) for x in ex["value_error"]) > 1e-6


def test_c42_mdp_identity_exact(result) -> None:
    for row in result["c42_exact_table"]:
        assert row["instances"] >= 10 and row["paths"] >= 1000
        assert row["max_abs_error"] <= 1e-10


def test_c42_both_estimators_converge_and_their_variances_are_compared(result) -> None:
    rows = result["c42_sampling_table"]
    for tau in {r["tau"] for r in rows}:
        for name in ("soft_q", "policy_gradient"):
            sub = sorted((r for r in rows if r["tau"] == tau and r["estimator"] == name), key=lambda r: r["N"])
            assert len(sub) >= 3
            # the error falls like N^(-1/2) and matches the exact covariance's prediction
            slope = math.log(sub[-1]["rms_error"] / sub[0]["rms_error"]) / math.log(sub[-1]["N"] / sub[0]["N"])
            assert -0.6 <= slope <= -0.4, (tau, name, slope)
            for r in sub:
                assert 0.8 <= r["rms_error"] / r["predicted_rms_error"] <= 1.25, r
    for row in result["c42_variance_table"]:
        # the per-path gradients average to the exact gradient of both sides
        assert row["per_path_mean_error_q"] <= 1e-10 and row["per_path_mean_error_pg"] <= 1e-10
        assert row["trace_cov_q"] > 0 and row["trace_cov_pg"] > 0
        assert row["ratio_q_over_pg"] == pytest.approx(row["trace_cov_q"] / row["trace_cov_pg"])


def _games(result):
    return list(result["summary"])


def test_every_rule_learns(result) -> None:
    for game in _games(result):
        s = result["summary"][game]
        for key, value in s.items():
            if key == "random":
                continue
            assert len(value["finals"]) == 3 and None not in value["finals"], key
            assert value["mean"] >= 2 * s["random"], (game, key, value["mean"], s["random"])


def test_c43_policy_gradient_and_soft_q_learn_alike(result) -> None:
    for game, row in zip(_games(result), result["claims_table"]):
        pg, sq = _finals(result, game, "a2c:proper"), _finals(result, game, "a2c:soft_q")
        assert abs(_diff_in_se(sq, pg)) <= 2.0
        assert row["c43_band_agreement"] >= 0.5


def test_c44_proper_bonus_no_worse_than_naive(result) -> None:
    for game, row in zip(_games(result), result["claims_table"]):
        proper, naive = _finals(result, game, "a2c:proper"), _finals(result, game, "a2c:naive")
        assert _diff_in_se(proper, naive) >= -2.0
        assert row["c44_band_agreement"] >= 0.5


def test_c45_dqn_targets_figure_two(result) -> None:
    for game in _games(result):
        keys = {k[4:] for k in result["summary"][game] if k.startswith("dqn:")}
        assert keys == {"standard", "standard, n=5", "soft (KL), tau=0.01", "soft (ent), tau=0.01",
                        "soft (KL), tau=0.1", "soft (ent), tau=0.1"}
        part = result["grid"][game]["dqn"]
        assert len(part["curve_steps"]) >= 10
        for label, curves in part["curves"].items():
            assert all(final_score(c) is not None for c in curves)
            assert min(part["episodes"][label]) >= 20  # every seed finished many episodes
