"""The synthetic grid city with an express road (maxentrl.irl.city)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.city import grid_city, turn_type_of_angle
from maxentrl.irl.roads import network_statistics


def test_city_layout_and_branching() -> None:
    rows, cols, k = 4, 9, 4
    net = grid_city(rows, cols, exit_every=k)
    ramps = len(set(range(0, cols, k)) | {cols - 1})
    streets = 2 * (rows * (cols - 1) + (rows - 1) * cols)
    assert net.num_states == streets + 2 * (ramps - 1) + 2 * ramps
    mdp = net.mdp
    cls = mdp.state_features[:, :5].argmax(1)
    deg = mdp.out_degree()
    # on the express road (class 0) a driver chooses only at ramps: continue or leave
    assert set(deg[cls == 0].tolist()) <= {1, 2}
    # a street segment ending at an interior intersection offers straight, left and right
    assert int(deg.max()) == 3
    assert network_statistics(net)["mean_out_degree"] > 2.2  # border streets have fewer continuations
    # every segment reaches every other
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    S = net.num_states
    g = coo_matrix((np.ones(mdp.num_actions), (mdp.src.numpy(), mdp.dst.numpy())), shape=(S, S))
    assert connected_components(g, directed=True, connection="strong")[0] == 1


def test_turn_types() -> None:
    assert [turn_type_of_angle(a) for a in (0, 90, -90, 150, -150)] == [0, 1, 2, 3, 4]
    net = grid_city(3, 3, exit_every=1)
    # the turn type of each action is one-hot in the action features
    assert torch.equal(net.mdp.action_features[:, 8:].argmax(1), torch.as_tensor(net.turn_type))


def test_more_ramps_mean_more_express_segments() -> None:
    few, many = grid_city(3, 13, exit_every=6), grid_city(3, 13, exit_every=1)
    assert many.num_states > few.num_states


@pytest.mark.parametrize("kwargs", [dict(rows=1, cols=5, exit_every=1), dict(rows=3, cols=5, exit_every=0),
                                    dict(rows=3, cols=5, exit_every=5), dict(rows=3, cols=5, exit_every=2, block_m=-1.0)])
def test_bad_arguments_are_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        grid_city(**kwargs)
