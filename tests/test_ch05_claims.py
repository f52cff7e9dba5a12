"""Chapter 5's claims C5.1-C5.4, asserted on one run of the quick preset."""

from __future__ import annotations

import pytest

from maxentrl.experiments import run_experiment


@pytest.fixture(scope="module")
def result():
    return run_experiment("ch05_natural_gradients", preset="quick", device="cpu", seed=0, progress=False)


def test_c51_least_squares_is_the_natural_gradient(result) -> None:
    assert result["c51_mdps"] >= 200
    for key in ("c51_tab_lstsq_vs_pinv", "c51_tab_closed_vs_pinv", "c51_net_lstsq_vs_pinv", "c51_net_cg_vs_pinv",
                "c51_sampled_lstsq_vs_pinv"):
        assert result[key] <= 1e-10, key
    assert result["c51_net_params"] > result["c51_policy_dof"]  # the singular case is exercised
    # an invertible but badly conditioned F: conjugate gradients and least squares still agree to 1e-10,
    # the explicit inverse does wherever cond(F)·eps allows it, and never worse than cond(F)·eps
    assert result["c51_narrow_params"] < result["c51_narrow_dof"]
    assert result["c51_narrow_max_cg"] <= 1e-10
    assert result["c51_narrow_max_err_well_conditioned"] <= 1e-10
    assert result["c51_narrow_max_err_over_cond_eps"] <= 1.0
    assert result["c51_narrow_fraction_well_conditioned"] >= 0.5
    assert result["c51_narrow_max_cond"] > 1e6  # and the badly conditioned ones are there to see


def test_c52_damped_step_is_npg_to_second_order(result) -> None:
    eps = result["c52_eps"]
    assert min(eps) <= 1e-4 and max(eps) >= 1e-1
    assert result["c52_mdps"] >= 64
    net_d, net_u = result["c52_net_damped_slope"], result["c52_net_undamped_slope"]
    assert 1.8 <= net_d["median"] <= 2.2 and net_d["q10"] >= 1.7
    assert 0.85 <= net_u["median"] <= 1.15
    # a table of logits: the only curvature is the normaliser, and the two steps agree to third order
    tab_d, tab_u = result["c52_tab_damped_slope"], result["c52_tab_undamped_slope"]
    assert 2.8 <= tab_d["median"] <= 3.2
    assert 0.9 <= tab_u["median"] <= 1.1
    # the damped step is far closer to the NPG step than the NPG step is long
    assert result["c52_net_damped_median"][0] < 1e-2 * result["c52_net_size_median"][0]


@pytest.mark.parametrize("task", ["tabular", "linear"])
def test_c53_npg_and_damped_soft_q_learn_alike(result, task: str) -> None:
    run = result["c53"][task]
    # the two learners' 10–90% seed bands overlap at (almost) every update
    assert run["npg_vs_damped"]["overlap"] >= 0.95
    initial, final = run["initial_gap"], run["final"]
    assert final["npg"] < 0.05 * initial and final["damped"] < 0.05 * initial
    # vanilla PG with a matched learning rate is slower: its band parts from NPG's
    assert run["npg_vs_pg"]["overlap"] <= 0.2
    assert final["pg"] > 3 * final["npg"]
    # undamped soft-Q jumps to the noisy target and settles above the damped learner
    assert final["undamped"] > final["damped"]


def test_c53_network_where_the_linear_step_overshoots(result) -> None:
    run = result["c53"]["mlp_0"]
    assert run["eps"] >= 0.1
    final, initial = run["final"], run["initial_gap"]
    assert final["damped"] < 0.05 * initial
    assert final["npg"] > 10 * final["damped"]


def test_c54_cen_theorem_one(result) -> None:
    assert result["c54_mdps"] >= 1_000
    fractions = result["c54_eta_fractions"]
    assert len(fractions) >= 3 and max(fractions) == 1.0
    assert max(result["c54_max_q_ratio"]) <= 1.0
    assert max(result["c54_max_log_pi_ratio"]) <= 1.0
    assert max(result["c54_max_q_excess"]) <= 1e-12
    # at η = (1 − γ)/τ the iterates are those of soft policy iteration; damped soft Q-iteration is NPG for every η
    assert result["c54_spi_max_diff"] <= 1e-10
    assert max(result["c54_damped_max_diff"]) <= 1e-10
