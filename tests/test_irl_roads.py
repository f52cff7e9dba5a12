"""The Helsinki road MDP and the simulated drivers (maxentrl.irl.roads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.roads import (
    FEATURE_NAMES,
    PLANTED_COST,
    load_road_network,
    path_length_m,
    route_match,
    simulate_trips,
)


@pytest.fixture(scope="module")
def net():
    return load_road_network()


def test_network_shape_and_features(net) -> None:
    mdp = net.mdp
    assert mdp.num_states > 300 and mdp.num_actions > mdp.num_states
    assert mdp.num_features == len(FEATURE_NAMES) == len(PLANTED_COST)
    assert mdp.src_segments is not None  # actions sorted by state
    f = torch.cat([mdp.state_features, mdp.action_features])
    assert bool((f >= 0).all())
    # exactly one turn type per action; the road classes add up to the segment length
    assert torch.equal(mdp.action_features[:, 8:].sum(1), torch.ones(mdp.num_actions, dtype=torch.float64))
    assert np.allclose(mdp.state_features[:, :5].sum(1).numpy(), net.length_m / 100)
    # the features are not collinear, so the planted weights are identifiable
    phi = mdp.state_features[mdp.src] + mdp.action_features
    assert int(torch.linalg.matrix_rank(phi)) == mdp.num_features


def test_every_segment_reaches_every_other(net) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    S = net.num_states
    g = coo_matrix((np.ones(net.mdp.num_actions), (net.mdp.src.numpy(), net.mdp.dst.numpy())), shape=(S, S))
    n, _ = connected_components(g, directed=True, connection="strong")
    assert n == 1


def test_simulated_trips(net) -> None:
    trips = simulate_trips(net, num_trips=50, generator=torch.Generator().manual_seed(0))
    assert len(trips.train) == 10 and len(trips.test) == 40  # 20% / 80%
    for acts in trips.train.actions + trips.test.actions:
        assert len(acts) >= 10
        assert route_match(net, acts, acts) == pytest.approx(1.0)
        assert path_length_m(net, acts) > 0
    # drivers are noisy: the same origin-destination pair need not give the same route
    noisy = simulate_trips(net, num_trips=20, generator=torch.Generator().manual_seed(1), destinations=[5], sigma_segment=1.0)
    assert len(set(noisy.test.actions)) > 1


def test_route_match_partial(net) -> None:
    trips = simulate_trips(net, num_trips=10, generator=torch.Generator().manual_seed(2))
    a, b = trips.test.actions[0], trips.test.actions[1]
    m = route_match(net, a, b)
    assert 0.0 <= m < 1.0 or set(a) == set(b)


def test_missing_file_raises(tmp_path) -> None:
    with pytest.raises(ConfigError):
        load_road_network(tmp_path / "none.npz")
