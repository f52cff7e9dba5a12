"""Chapter 2's claims C2.1-C2.6, asserted on one run of the quick preset."""

from __future__ import annotations

import math

import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import run_experiment


@pytest.fixture(scope="module")
def result():
    return run_experiment("ch02_soft_bellman", preset="quick", device="cpu", seed=0, progress=False)


def test_c21_contraction(result) -> None:
    assert result["c21_triples"] >= 10_000
    assert result["c21_max_excess"] <= 1e-12  # max ‖TQ₁−TQ₂‖∞/‖Q₁−Q₂‖∞ − γ
    # computed as a plain difference of backups, the excess is rounding: a few ulps of ‖TQ‖∞
    assert result["c21_max_direct_excess_ulps"] <= 64
    # constant shifts are among the pairs, so the bound is attained (the ratio reaches γ)
    assert result["c21_max_ratio_over_gamma"] >= 1 - 1e-9


def test_c21_soft_q_iteration_error_under_gamma_k(result) -> None:
    assert result["c21_iter_max_violation"] <= 1e-10
    assert result["c21_iter_max_ratio"] <= 1 + 1e-9
    errors = result["c21_iter_errors"]
    assert len(errors) >= 16 and len(errors[0]) > 100
    assert max(e[-1] for e in errors) < 1e-5 * min(e[0] for e in errors)  # it does converge


def test_c22_fixed_point_policy_and_monte_carlo(result) -> None:
    assert result["c22_policy_formula_error"] <= 1e-12
    assert result["c22_policy_sums_error"] <= 1e-12
    assert result["c22_q_fixed_point_error"] <= 1e-9
    assert result["c22_v_fixed_point_error"] <= 1e-9
    assert result["c22_max_abs_z"] <= 3.0  # within 3 standard errors
    # and the test has power: misplacing the first entropy term would move the mean by > 3 standard errors
    assert result["c22_min_first_entropy_in_se"] > 3.0
    assert result["c22_truncation_bound"] <= 1e-9
    assert len(result["c22_table"]) >= 4


def test_c23_monotone_policy_improvement(result) -> None:
    assert result["c23_mdps"] >= 1_000
    assert result["c23_min_improvement"] >= -1e-10
    # relative to ‖Q‖∞ the negative part is rounding: a few tens of ulps at most
    assert result["c23_min_relative_improvement"] >= -1e-13
    assert result["c23_final_relative_gap"] <= 1e-9  # and it reaches Q*
    curve = result["c23_gap_curve"]
    assert curve[0] > 1e-2 and curve[-1] < 1e-9


def test_c24_hard_limit_within_bound(result) -> None:
    rows = result["c24_table"]
    assert result["c24_min_gap"] >= -1e-12
    assert result["c24_max_gap_over_bound"] <= 1.0
    gaps = [r["max_gap"] for r in rows]
    assert all(b > a for a, b in zip(gaps, gaps[1:]))  # the gap grows with τ ...
    assert rows[0]["max_gap"] <= rows[0]["bound"] and rows[0]["max_gap"] < 1e-3  # ... and vanishes as τ → 0


def test_c25_gridworld_soft_spreads_hard_commits(result) -> None:
    rows = result["c25_table"]
    n_cells = result["c25_n_cells"]
    hard, soft = rows[0], rows[1:]
    side = int(math.isqrt(n_cells))
    assert hard["tau"] == 0.0 and hard["cells_visited"] == 2 * side - 1  # one route
    assert hard["hard_route_probability"] == 1.0
    assert len(soft) >= 3
    for row in soft:
        assert row["cells_visited"] == n_cells  # every cell lies on some shortest route and is used
        assert row["hard_route_probability"] < 0.05
        assert abs(row["p_first_down"] - row["p_first_right"]) < 1e-12  # both first moves, by symmetry
        assert row["p_reached"] > 0.999
    assert result["c25_n_shortest_routes"] == math.comb(2 * side - 2, side - 1)


def test_c26_importance_sampled_soft_value(result) -> None:
    rows = result["c26_table"]
    # unbiased in exp-space: every (proposal, K) mean of Ẑ/Z within 3.5 standard errors of 1
    # (12 comparisons; 3.5 keeps the family-wise false-alarm rate near 0.5%)
    assert result["c26_max_abs_z"] <= 3.5
    assert result["c26_boltzmann_max_var"] <= 1e-20
    assert result["c26_uniform_var_K1"] > 1e-2
    for name in ("uniform", "tilted"):
        var = [r["var_V_hat"] for r in rows if r["proposal"] == name]
        assert var[-1] < var[0] / 100  # variance falls with K
        bias = [r["bias_V_hat"] for r in rows if r["proposal"] == name]
        assert bias[0] < 0  # log of an unbiased estimate is biased low (Jensen)


def test_config_validation() -> None:
    for overrides in ({"mc_tau": -1.0}, {"gap_taus": (0.1, 0.0)}, {"gamma_range": (0.5, 1.0)}, {"contraction_triples": 0},
                      {"is_samples": ()}, {"grid_size": 1}, {"tau_range": (0.0, 1.0)},
                      {"improvement_tau_range": (1.0, 0.5)}):
        with pytest.raises(ConfigError):
            run_experiment("ch02_soft_bellman", preset="quick", device="cpu", progress=False, overrides=overrides)
