"""Chapter 1's claims C1.1–C1.4, asserted on one run of the quick preset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import RunResult, run_experiment
from maxentrl.experiments.ch01_boltzmann import QUICK, Ch01Config


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
    assert len(result["c14_table"]) == 2 * len(result["c14_taus"])


@pytest.mark.parametrize(
    "change",
    [
        {"grid_taus": (0.1, -1.0)},
        {"bandit_taus": (0.0,)},
        {"fd_tau": -0.5},
        {"ascent_rate": 1.5},
        {"bandits": 0},
        {"fd_eps_min": 0.5},
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
