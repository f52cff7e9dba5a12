"""Chapter 1's claims C1.1–C1.4, asserted on one run of the quick preset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import RunResult, run_experiment
from maxentrl.experiments.ch01_boltzmann import QUICK, UNDER_TRIED_BELOW, Ch01Config
from maxentrl.figures.ch01 import ON_LINE_RATIO, ON_LINE_SLOPE


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run_experiment("ch01_boltzmann", preset="quick", device="cpu", seed=0, progress=False)


def test_c11_finite_difference_orders(result: RunResult) -> None:
    forward = np.array(result["c11_forward_slopes"])
    central = np.array(result["c11_central_slopes"])
    assert len(forward) == QUICK.fd_test_functions >= 16
    # log-log slope of |FD − ∫(δJ/δq)η| against ε: 1 for forward, 2 for central
    assert abs(result["c11_forward_median_slope"] - 1.0) < 0.02
    assert abs(result["c11_central_median_slope"] - 2.0) < 0.02
    assert np.all(np.abs(forward - 1.0) < 0.05), forward
    # the forward error is the predicted Taylor term (ε/2)∫F_uu η² to 0.1% at the smallest ε
    ratio = np.array(result["c11_forward_ratio_smallest_eps"])
    assert np.all(np.abs(ratio - 1.0) < 1e-3), ratio
    # central: slope 2 except where the leading coefficient (1/6)∫F_uuu η³ nearly vanishes
    off = np.abs(central - 2.0) >= 0.05
    assert off.mean() <= 0.1, central
    lead = np.abs(np.array(result["c11_central_leading_coeff"]))
    assert np.all(lead[off] < 0.1 * np.median(lead)), (central[off], lead[off])
    # the first variation itself is not negligible (the errors are relative to something)
    assert result["c11_exact_median_abs"] > 1e-2
    assert result["c11_forward_error_median"][0] < 1e-4 * result["c11_exact_median_abs"]
    # δJ/δq = f − τ(log q + 1) agrees with autograd's ∂F/∂q
    assert result["c11_autograd_max_abs_diff"] < 1e-12


def test_c12_gradient_ascent_reaches_boltzmann_density(result: RunResult) -> None:
    taus = result["c12_taus"]
    assert len(taus) >= 3
    curve = np.array(result["c12_kl_curve"])  # [step][tau]
    assert np.all(curve[0] > 1e-2)  # it starts far from q*
    assert np.all(np.array(result["c12_final_kl"]) < 1e-8)
    # the value reached is τ log ∫ exp(f/τ)
    assert np.all(np.array(result["c12_value_gap"]) < 1e-10)


def test_c12_plain_gradient_ascent_on_the_logits_is_the_slow_contrast(result: RunResult) -> None:
    """Mirror ascent is geometric; plain ascent on the logits falls like a power of k where q* spans many scales."""
    plain = np.array(result["c12_plain_kl_curve"])  # [logged step][tau]
    steps = np.array(result["c12_plain_steps"])
    mirror_steps = len(result["c12_kl_curve"])
    assert steps[-1] > 10 * mirror_steps
    q_max, q_min = np.array(result["c12_q_star_max"]), np.array(result["c12_q_star_min"])
    wide = q_max / q_min > 1e3  # the temperatures at which q* spans several orders of magnitude
    assert wide.sum() >= 2
    # after more than ten times the steps, plain ascent is still far above mirror ascent's 1e-8 ...
    assert np.all(plain[-1, wide] > 1e-5)
    # ... because it converges only like a power of k (slope near -1), not geometrically
    slopes = np.array(result["c12_plain_tail_slopes"])
    assert np.all((slopes[wide] > -1.5) & (slopes[wide] < -0.5)), slopes


def test_c13_s6_identity(result: RunResult) -> None:
    assert result["c13_samples"] >= 10_000
    assert result["c13_max_abs_gap"] < 1e-12
    assert result["c13_max_abs_value"] > 10  # the sides are not trivially small
    # S(13) with r̄ for q_θ: at π = π^B the objective equals the soft maximum
    assert result["c13_s13_max_abs_gap"] < 1e-11


def test_c14_both_learners_converge_to_pi_B(result: RunResult) -> None:
    steps = result["c14_steps"]
    assert steps[0] == 0 and steps[-1] == QUICK.bandit_steps
    for learner in ("policy", "value"):
        curve = np.array(result[f"c14_kl_{learner}"])  # [logged step][tau]
        assert curve.shape == (len(steps), len(result["c14_taus"]))
        tenth = int(np.searchsorted(steps, QUICK.bandit_steps // 10))
        for i, tau in enumerate(result["c14_taus"]):
            assert curve[-1, i] < curve[0, i] / 50, (learner, tau, curve[0, i], curve[-1, i])
            assert curve[-1, i] < 0.03, (learner, tau, curve[-1, i])
            assert curve[-1, i] < 0.7 * curve[tenth, i], (learner, tau)  # still improving late on
    assert len(result["c14_table"]) == 4 * len(result["c14_taus"])  # and the policy-based learner on the exact gradient


def test_c14_rates_against_the_one_over_k_line(result: RunResult) -> None:
    rows = {(r["learner"], r["tau"]): r for r in result["c14_table"]}
    taus = result["c14_taus"]
    warm = [t for t in taus if t >= 0.5]  # temperatures at which the quick run is past the transient
    assert warm
    for tau in warm:
        # the value-based learner with sample-average steps sits on the predicted line c/k
        v = rows[("value", tau)]
        assert -1.2 < v["tail_slope"] < -0.85, v
        assert ON_LINE_RATIO[0] < v["k_kl_over_constant"] < ON_LINE_RATIO[1], v
    for tau in taus:
        # the step schedule is what slowed the old learner: the same learner with Robbins-Monro steps
        # ends higher than with sample averages, most of all at the lowest temperature
        assert rows[("value_rm", tau)]["final_kl"] > rows[("value", tau)]["final_kl"]
    lowest = min(taus)
    assert rows[("value_rm", lowest)]["tail_slope"] > rows[("value", lowest)]["tail_slope"] + 0.2
    # the averaged policy-based learner falls at least like k^-0.6 everywhere, like 1/k at the highest tau
    assert all(rows[("policy", t)]["tail_slope"] < -0.6 for t in taus)
    assert rows[("policy", max(taus))]["tail_slope"] < -0.85


def test_c14_the_policy_learners_slow_fall_at_low_temperature_is_what_its_start_leaves(result: RunResult) -> None:
    """The same learner on the exact gradient (no noise) keeps a divergence that is a large part of the sampled
    learner's at the lowest temperature, falls more slowly than 1/k there, and is negligible at the highest."""
    rows = {(r["learner"], r["tau"]): r for r in result["c14_table"]}
    taus = sorted(result["c14_taus"])
    share = [rows[("policy_expected", t)]["final_kl"] / rows[("policy", t)]["final_kl"] for t in taus]
    assert all(0 < x < 1 for x in share), share
    assert all(a > b for a, b in zip(share, share[1:])), share  # the lower the temperature, the larger
    assert share[0] > 0.3 and share[-1] < 0.05, share
    assert rows[("policy_expected", taus[0])]["tail_slope"] > -1 + ON_LINE_SLOPE  # slower than 1/k
    assert rows[("policy_expected", taus[-1])]["tail_slope"] < -1  # gone faster than the noise at τ = 1
    curve = np.array(result["c14_kl_policy_expected"])
    assert np.all(np.diff(curve, axis=0) <= 1e-15)  # with no noise the divergence only falls


def test_c14_the_excess_at_low_temperature_sits_in_bandits_with_an_under_tried_arm(result: RunResult) -> None:
    """Bandits whose every arm was tried at least a tenth as often as π^B would try it are on the line c/k at
    every temperature; those with an under-tried arm carry more than their share of the divergence."""
    rows = {r["tau"]: r for r in result["c14_under_tried"]}
    assert sorted(rows) == sorted(result["c14_taus"])
    for tau, r in rows.items():
        assert ON_LINE_RATIO[0] < r["k_kl_over_constant_rest"] < ON_LINE_RATIO[1], r
        assert r["below"] == UNDER_TRIED_BELOW
        if r["fraction"] > 0:
            assert r["kl_share"] > 2 * r["fraction"], r
            assert r["k_kl_over_constant_under_tried"] > 2 * r["k_kl_over_constant_rest"], r
    low = rows[min(rows)]
    assert low["fraction"] > 0.05 and low["kl_share"] > 0.3, low  # at τ = 0.25 it is a fifth of the bandits


@pytest.mark.parametrize(
    "change",
    [
        {"grid_taus": (0.1, -1.0)},
        {"bandit_taus": (0.0,)},
        {"fd_tau": -0.5},
        {"ascent_rate": 1.5},
        {"bandits": 0},
        {"fd_eps_min": 0.5},
        {"policy_power": 0.3},
        {"plain_steps": 0},
    ],
)
def test_bad_config_raises(change: dict) -> None:
    with pytest.raises(ConfigError):
        dataclasses.replace(QUICK, **change)


def test_bad_override_from_command_line_raises() -> None:
    with pytest.raises(ConfigError):
        run_experiment("ch01_boltzmann", preset="quick", device="cpu", overrides={"bandit_taus": "0.5,-1"})
    with pytest.raises(ConfigError):
        run_experiment("ch01_boltzmann", preset="huge", device="cpu")


def test_config_defaults_are_the_quick_preset() -> None:
    assert QUICK == Ch01Config()
