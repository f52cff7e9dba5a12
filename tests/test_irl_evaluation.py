"""Table 1's comparison of route models (maxentrl.irl.evaluation)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from maxentrl.irl.city import grid_city
from maxentrl.errors import ConfigError
from maxentrl.irl.evaluation import MODELS, TIE_BITS, compare_route_models, exact_ties, paired_difference
from maxentrl.irl.roads import competing_od_pairs, simulate_trips


def test_paired_difference() -> None:
    p = paired_difference([1.0, 2.0, 4.0], [0.0, 2.0, 1.0])
    assert p["mean"] == pytest.approx(4 / 3)
    assert p["se"] == pytest.approx(np.std([1.0, 0.0, 3.0], ddof=1) / np.sqrt(3))
    assert p["better"] == pytest.approx(2 / 3) and p["worse"] == 0.0


def test_exact_ties_make_equal_routes_tie_whatever_the_last_bits() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 7.0, size=40)
    # the same 40 costs with rounding-level noise, as another processor's fit might give them
    noisy = base * (1 + rng.uniform(-1e-14, 1e-14, size=40))
    q = 2.0 ** (3 - TIE_BITS)  # the largest cost is below 2^3
    for c in (base, noisy):
        e = exact_ties(c)
        assert np.all(np.abs(e - c) <= q / 2) and np.all(np.round(e / q) == e / q)
        assert e.min() >= q
    assert np.array_equal(exact_ties(base), exact_ties(noisy))
    # two routes over the same costs in another order: float sums differ, rounded ones agree exactly
    c = np.array([0.1, 0.2, 0.3])
    assert (c[0] + c[1]) + c[2] != (c[2] + c[1]) + c[0]  # the tie that floating point breaks
    e = exact_ties(c)
    assert (e[0] + e[1]) + e[2] == (e[2] + e[1]) + e[0]
    order = rng.permutation(40)
    e = exact_ties(base)
    assert sum(e.tolist()) == sum(e[order].tolist()) == sum(sorted(e.tolist()))
    with pytest.raises(ConfigError, match="finite positive edge costs"):
        exact_ties(np.array([1.0, 0.0]))


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


class _Stop(Exception):
    pass


def _checkpointed(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


def test_screening_and_comparison_resume_exactly() -> None:
    """Stopped inside the screening or inside any of the four fits, both go on to the same result."""
    net = grid_city(3, 8, exit_every=3)
    screen = dict(candidates=120, probes=6, min_segments=6)
    pairs = competing_od_pairs(net, generator=torch.Generator().manual_seed(0), **screen)
    kept = {}

    def stop_screening(state):
        if state["candidate"] == 50:
            kept["state"] = _checkpointed(state)
            raise _Stop

    with pytest.raises(_Stop):
        competing_od_pairs(net, generator=torch.Generator().manual_seed(0), on_candidate=stop_screening, **screen)
    gen = torch.Generator()  # the state restores the generator too
    assert competing_od_pairs(net, generator=gen, state=kept["state"], **screen) == pairs
    assert torch.equal(gen.get_state(), _after_screening(net, screen))

    trips = simulate_trips(net, num_trips=30, generator=torch.Generator().manual_seed(1), od_pairs=pairs, min_segments=6)
    options = dict(horizon=60, maxent_iterations=3, maxent_step=0.5, lbfgs_iterations=4, action_iterations=3,
                   action_step=0.5, margin_iterations=2, margin_step=0.5)
    whole = compare_route_models(net, trips, **options)
    whole.pop("timings")
    states = []
    compare_route_models(net, trips, on_iteration=lambda st: states.append(_checkpointed(st)), **options)
    assert sorted({st["fit"] for st in states}) == [0, 1, 2, 3]
    for state in (states[1], states[4], states[-3]):  # inside exponentiated gradient, L-BFGS and a later fit
        resumed = compare_route_models(net, trips, state=state, **options)
        resumed.pop("timings")
        assert set(resumed) == set(whole)
        for key, value in whole.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(resumed[key], value), key
            else:
                assert resumed[key] == value, key


def _after_screening(net, screen) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    competing_od_pairs(net, generator=gen, **screen)
    return gen.get_state()
