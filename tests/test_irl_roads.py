"""The La Serena road MDP, its statistics, competing trips and the simulated drivers (maxentrl.irl.roads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.roads import (
    FEATURE_NAMES,
    PLANTED_COST,
    competing_od_pairs,
    district_share,
    driver_route,
    load_road_network,
    network_statistics,
    path_length_m,
    route_branching,
    route_match,
    shortest_path,
    shortest_paths_from,
    simulate_trips,
)


@pytest.fixture(scope="module")
def net():
    return load_road_network()


def test_network_shape_and_features(net) -> None:
    mdp = net.mdp
    assert mdp.num_states >= 2000 and mdp.num_actions > mdp.num_states  # thousands of segments
    assert mdp.num_features == len(FEATURE_NAMES) == len(PLANTED_COST)
    assert mdp.src_segments is not None  # actions sorted by state
    f = torch.cat([mdp.state_features, mdp.action_features])
    assert bool((f >= 0).all())
    # exactly one turn type per action; the road classes add up to the segment length
    assert torch.equal(mdp.action_features[:, 8:].sum(1), torch.ones(mdp.num_actions, dtype=torch.float64))
    assert np.allclose(mdp.state_features[:, :5].sum(1).numpy(), net.length_m / 100, rtol=1e-5)
    # the slow and lane distances are parts of the segment
    assert bool((mdp.state_features[:, 5] <= mdp.state_features[:, :5].sum(1) + 1e-6).all())
    assert bool((mdp.state_features[:, 6:8].sum(1) <= mdp.state_features[:, :5].sum(1) + 1e-6).all())
    # the features that occur are not collinear, so their planted weights are identifiable
    phi = mdp.state_features[mdp.src] + mdp.action_features
    present = phi.abs().sum(0) > 0
    assert int(present.sum()) >= mdp.num_features - 1  # at most one kind of turn is absent
    assert int(torch.linalg.matrix_rank(phi[:, present])) == int(present.sum())
    # travel time at the limits (tagged from 20 to 100 km/h, 50 km/h where untagged) lies between those bounds
    assert np.all(net.time_s >= net.length_m / 1000 / 100 * 3600 - 1e-3)
    assert np.all(net.time_s <= net.length_m / 1000 / 20 * 3600 + 1e-3)


def test_segments_end_at_decision_points(net) -> None:
    """A segment with one continuation whose successor has one predecessor would have been merged."""
    mdp = net.mdp
    out_deg = mdp.out_degree()
    in_deg = torch.bincount(mdp.dst, minlength=mdp.num_states)
    single = out_deg[mdp.src] == 1
    assert not bool((single & (in_deg[mdp.dst] == 1) & (mdp.src != mdp.dst)).any())


def test_every_segment_reaches_every_other(net) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    S = net.num_states
    g = coo_matrix((np.ones(net.mdp.num_actions), (net.mdp.src.numpy(), net.mdp.dst.numpy())), shape=(S, S))
    n, _ = connected_components(g, directed=True, connection="strong")
    assert n == 1


def test_network_statistics(net) -> None:
    st = network_statistics(net)
    deg = net.mdp.out_degree().numpy()
    assert st["states"] == net.num_states and st["actions"] == net.mdp.num_actions
    assert sum(st["out_degree_histogram"]) == net.num_states
    assert st["mean_out_degree"] == pytest.approx(net.mdp.num_actions / net.num_states)
    assert st["choice_share"] == pytest.approx(float((deg >= 2).mean()))
    assert sum(st["km_per_class"]) == pytest.approx(st["km"], rel=1e-5)
    assert 0 < st["district_share"] < 1 and 0 < st["arterial_share"] < 1


def test_simulated_trips(net) -> None:
    trips = simulate_trips(net, num_trips=50, generator=torch.Generator().manual_seed(0))
    assert len(trips.train) == 10 and len(trips.test) == 40  # 20% / 80%
    for acts in trips.train.actions + trips.test.actions:
        assert len(acts) >= 10
        assert route_match(net, acts, acts) == pytest.approx(1.0)
        assert path_length_m(net, acts) > 0
        assert route_branching(net.mdp, acts) >= 0
    # drivers are noisy: the same origin-destination pair need not give the same route
    noisy = simulate_trips(net, num_trips=20, generator=torch.Generator().manual_seed(1), destinations=[5], sigma_segment=1.0)
    assert len(set(noisy.test.actions)) > 1


def test_competing_pairs_split_between_district_and_arterial(net) -> None:
    gen = torch.Generator().manual_seed(3)
    pairs = competing_od_pairs(net, generator=gen, candidates=300, probes=10, min_split=0.2)
    assert len(pairs) >= 5
    # fresh drivers between the kept pairs take both kinds of route
    trips = simulate_trips(net, num_trips=200, generator=gen, od_pairs=pairs)
    shares = np.array([district_share(net, a) for a in trips.train.actions + trips.test.actions])
    assert 0.2 < float((shares > 0.5).mean()) < 0.8
    assert {(int(s), int(g)) for s, g in zip(trips.test.start, trips.test.goal)} <= set(pairs)


def test_route_match_and_branching(net) -> None:
    trips = simulate_trips(net, num_trips=10, generator=torch.Generator().manual_seed(2))
    a, b = trips.test.actions[0], trips.test.actions[1]
    m = route_match(net, a, b)
    assert 0.0 <= m < 1.0 or set(a) == set(b)
    deg = net.mdp.out_degree().double()
    assert route_branching(net.mdp, a) == pytest.approx(float(torch.log(deg[net.mdp.src[list(a)]]).sum()))


def test_bad_arguments_are_refused(net, tmp_path) -> None:
    with pytest.raises(ConfigError):
        load_road_network(tmp_path / "none.npz")
    S, E = net.num_states, net.mdp.num_actions
    with pytest.raises(ConfigError, match="positive"):
        shortest_paths_from(net.mdp, np.zeros(E), [0])
    with pytest.raises(ConfigError, match="finite"):
        shortest_paths_from(net.mdp, np.full(E, np.nan), [0])
    with pytest.raises(ConfigError, match="starts"):
        shortest_paths_from(net.mdp, np.ones(E), [S])
    with pytest.raises(ConfigError, match="goal"):
        shortest_path(net.mdp, np.ones(E), 0, -1)
    with pytest.raises(ConfigError, match="actions"):
        path_length_m(net, [E])
    with pytest.raises(ConfigError, match="demonstrated"):
        route_match(net, [-1], [0])
    with pytest.raises(ConfigError, match="od_pairs"):
        simulate_trips(net, num_trips=4, generator=torch.Generator(), od_pairs=[(0, 0)])
    with pytest.raises(ConfigError, match="od_pairs"):
        simulate_trips(net, num_trips=4, generator=torch.Generator(), od_pairs=[])
    with pytest.raises(ConfigError, match="destinations"):
        simulate_trips(net, num_trips=4, generator=torch.Generator(), destinations=[S])
    with pytest.raises(ConfigError, match="planted_cost"):
        driver_route(net, 0, 1, generator=torch.Generator(), planted_cost=-PLANTED_COST)
    with pytest.raises(ConfigError, match="sigma"):
        driver_route(net, 0, 1, generator=torch.Generator(), sigma_segment=float("nan"))
    with pytest.raises(ConfigError, match="min_split"):
        competing_od_pairs(net, generator=torch.Generator(), candidates=3, probes=3, min_split=0.7)
