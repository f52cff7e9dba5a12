"""Chapter 6's claims C6.1–C6.5, asserted on one run of the quick preset."""

from __future__ import annotations

import dataclasses

import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import get_experiment, run_experiment
from maxentrl.experiments.ch06_maxent_irl import COST_CORRELATION_BOUND, Ch06Config


@pytest.fixture(scope="module")
def result():
    return run_experiment("ch06_maxent_irl", preset="quick", device="cpu", seed=0, progress=False)


def table(result) -> dict[str, dict]:
    return {row["model"]: row for row in result["table1"]}


def test_c61_algorithm1_equals_enumeration(result) -> None:
    assert result["enumeration_max_error"] <= 1e-10
    rows = result["enumeration"]
    assert any(r["acyclic"] for r in rows) and any(not r["acyclic"] for r in rows)
    assert max(r["paths"] for r in rows) >= 20  # enumeration had real work to do


def test_c62_label_bias_fig2(result) -> None:
    assert result["fig2_maxent"] == pytest.approx([1 / 3, 1 / 3, 1 / 3], abs=1e-12)
    assert sorted(result["fig2_action"]) == pytest.approx([0.25, 0.25, 0.5], abs=1e-12)


def test_c63_feature_matching_and_recovery(result) -> None:
    assert result["grid_grad_norm"] < 1e-6  # eq. 6 gradient ≈ 0 at the optimum
    assert result["grid_feature_gap"] < 1e-6  # model and demonstrations' feature expectations match
    assert result["grid_theta_rel_error"] < 0.05  # planted weights recovered
    lls = result["grid_gd_loglik"]
    assert lls[-1] > lls[0]  # plain gradient ascent climbs the same likelihood


def test_c64_the_network_and_its_trips(result) -> None:
    net = result["road_network"]
    assert net["states"] == result["road_states"] > 200 and net["actions"] > net["states"]
    assert sum(net["out_degree_histogram"]) == net["states"]
    assert net["mean_out_degree"] == pytest.approx(net["actions"] / net["states"])
    assert 0 < net["district_share"] < 1 and 0 < net["arterial_share"] < 1
    # the trips were drawn between pairs whose drivers choose between district and arterial routes
    assert len(result["road_od_pairs"]) >= 20
    assert 0.2 < result["road_district_route_share"] < 0.8


def test_c64_table1_on_withheld_routes(result) -> None:
    t = table(result)
    assert set(t) == {"Time-based", "Max Margin", "Action", "Action (costs)", "MaxEnt"}
    assert result["road_test"] == 4 * result["road_train"]  # 20% / 80% split
    for row in t.values():
        assert 0 <= row["match90_pct"] <= 100 and 0 < row["matching_pct"] <= 100
    # every learned model beats the time-based route, which ignores the drivers' turn preferences
    for name in ("Max Margin", "Action", "Action (costs)", "MaxEnt"):
        assert t[name]["matching_pct"] > t["Time-based"]["matching_pct"]
    assert result["paired_vs_maxent"]["Time-based"]["mean_diff_pct"] > 2 * result["paired_vs_maxent"]["Time-based"]["se_pct"]
    # MaxEnt is compared at its optimum: the gradient of eq. 6 vanishes on the training trips
    assert result["maxent_final_grad_norm"] < 1e-5
    assert result["maxent_nonpositive_action_costs"] == 0  # its cheapest routes are well defined
    # log probability: only the two probabilistic models have one, both far above a random walk
    assert t["Time-based"]["log_prob"] is None and t["Max Margin"]["log_prob"] is None
    assert t["Action (costs)"]["log_prob"] is None
    for name in ("Action", "MaxEnt"):
        assert t[name]["log_prob"] > result["logprob_uniform_walk"] + 3
    # the chapter says the paper's withheld routes (-7.91 action model, -6.85 MaxEnt) carry more uncertainty
    assert t["Action"]["log_prob"] > -7.91 and t["MaxEnt"]["log_prob"] > -6.85
    # MaxEnt is not worse than the action model beyond noise on log probability. On matching the paper's lead
    # does not reproduce on this network: the chapter reports the paired differences whichever way they go
    d, se = result["logprob_maxent_minus_action"], result["logprob_maxent_minus_action_se"]
    assert d > -2 * se
    assert set(result["paired_vs_maxent"]) == set(t) - {"MaxEnt"}
    # the log-probability difference is split into equal thirds by branching
    bins = result["logprob_by_branching"]
    assert len(bins) == 3 and sum(b["trips"] for b in bins) == result["road_test"]


def test_c64_mechanism_label_bias_grows_with_branching(result) -> None:
    """In the synthetic cities MaxEnt's advantage in log probability is clear, and it lives in the routes
    that pass through much branching: small or absent in the least-branching third, large in the most."""
    rows = result["mechanism"]
    assert len(rows) >= 2
    for row in rows:
        assert row["maxent_final_grad_norm"] < 1e-5
        assert row["logprob_diff"] > 3 * row["logprob_diff_se"], row
        bins = [b for b in result["mechanism_by_branching"] if b["district_rows"] == row["district_rows"]]
        assert len(bins) == 3
        low, high = bins[0], bins[-1]
        assert high["diff"] - low["diff"] > 2 * (low["se"] ** 2 + high["se"] ** 2) ** 0.5, (low, high)
    assert rows[-1]["mean_out_degree"] > rows[0]["mean_out_degree"] - 1e-9


def test_c65_learned_costs_and_destinations(result) -> None:
    # Fig. 3: learned vs planted costs, correlated over the 13 features. The bound is well below 1, for
    # reasons the chapter gives. The drivers are noisy cost minimizers, not MaxEnt agents, so the maximum-
    # likelihood costs converge to the MaxEnt model nearest their behaviour, not to the planted costs, and
    # directions that routes between competing pairs pin down only weakly (road class, speed and lane
    # distances nearly add up to the same length; tertiary roads and hard turns are rare on them) stay weak
    # with more trips. So the correlation levels off below 0.9 as trips grow, and at the quick run's size it
    # also varies from one draw of trips to the next. Measured with the quick run's pairs and settings: six
    # draws of 500 trips gave 0.71 to 0.88, two draws of 1,000 trips 0.80 and 0.84, one of 2,000 trips 0.87
    # (the committed full run, 2,000 trips, 0.87); trips between random pairs do no better (0.71 in two draws
    # of 500), so it is not the screening of pairs. A bound of 0.8 would test the draw, not the claim;
    # COST_CORRELATION_BOUND (0.6) asks for the strong relation that every draw shows.
    assert result["cost_correlation"] > COST_CORRELATION_BOUND
    acc = result["dest_accuracy"]
    prior = result["dest_accuracy_prior_only"]
    assert acc[0] == pytest.approx(prior[0])  # nothing observed: the prior decides
    assert acc[-1] > 0.8 > prior[-1]  # most of the route observed: the destination is clear
    assert acc[-1] > acc[len(acc) // 2] > acc[0]  # accuracy grows with the fraction observed


def test_bad_config_raises() -> None:
    with pytest.raises(ConfigError):
        Ch06Config(grid_theta=(0.5, -1.0, -1.0, -1.0))
    with pytest.raises(ConfigError):
        Ch06Config(maxent_step=-0.1)
    with pytest.raises(ConfigError):
        Ch06Config(fractions=(0.0, 1.0))
    with pytest.raises(ConfigError):
        Ch06Config(road_trips=3)
    with pytest.raises(ConfigError):
        Ch06Config(city_exit_every=20)  # more than city_cols - 1
    with pytest.raises(ConfigError):
        Ch06Config(od_min_split=0.7)
    with pytest.raises(ConfigError):
        Ch06Config(city_rows=(1, 8))
    quick = get_experiment("ch06_maxent_irl").presets["quick"]
    with pytest.raises(ConfigError):
        dataclasses.replace(quick, dest_prior=(1.0, 1.0))
