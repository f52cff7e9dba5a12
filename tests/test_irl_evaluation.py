"""Table 1's comparison of route models (maxentrl.irl.evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maxentrl.irl.city import grid_city
from maxentrl.irl.evaluation import MODELS, compare_route_models, paired_difference
from maxentrl.irl.roads import competing_od_pairs, simulate_trips


def test_paired_difference() -> None:
    p = paired_difference([1.0, 2.0, 4.0], [0.0, 2.0, 1.0])
    assert p["mean"] == pytest.approx(4 / 3)
    assert p["se"] == pytest.approx(np.std([1.0, 0.0, 3.0], ddof=1) / np.sqrt(3))
    assert p["better"] == pytest.approx(2 / 3) and p["worse"] == 0.0


def test_compare_route_models_on_a_small_city() -> None:
    net = grid_city(3, 8, exit_every=3)
    gen = torch.Generator().manual_seed(0)
    pairs = competing_od_pairs(net, generator=gen, candidates=200, probes=6, min_segments=6)
    trips = simulate_trips(net, num_trips=60, generator=gen, od_pairs=pairs, min_segments=6)
    r = compare_route_models(net, trips, horizon=60, maxent_iterations=10, maxent_step=0.5, lbfgs_iterations=50,
                             action_iterations=30, action_step=0.5, margin_iterations=5, margin_step=0.5)
    assert [row["model"] for row in r["table1"]] == list(MODELS)
    assert r["train"] == 12 and r["test"] == 48
    t = {row["model"]: row for row in r["table1"]}
    assert t["MaxEnt"]["log_prob"] < 0 and t["Action"]["log_prob"] < 0 and t["Time-based"]["log_prob"] is None
    # the paired log-probability difference is the difference of the two rows' means
    assert r["logprob_maxent_minus_action"] == pytest.approx(t["MaxEnt"]["log_prob"] - t["Action"]["log_prob"])
    assert sum(b["trips"] for b in r["logprob_by_branching"]) == r["test"]
    assert r["maxent_final_grad_norm"] < 1e-5  # MaxEnt compared at its optimum
    for name, p in r["paired_vs_maxent"].items():
        assert p["mean_diff_pct"] == pytest.approx(t["MaxEnt"]["matching_pct"] - t[name]["matching_pct"])
