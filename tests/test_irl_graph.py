"""The sparse deterministic MDP (maxentrl.irl.graph)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.graph import GraphMDP, grid_graph, path_features, path_reward


def small() -> GraphMDP:
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    g = torch.tensor([[0.5, 0.0], [0.0, 0.5], [0.0, 0.0]], dtype=torch.float64)
    return GraphMDP.from_edges(3, [0, 0, 1], [1, 2, 2], f, g)


def test_path_features_sum_state_and_action_features() -> None:
    mdp = small()
    # path 0 -> 1 -> 2: leaves state 0 by action 0 and state 1 by action 2
    assert torch.allclose(path_features(mdp, [0, 2]), torch.tensor([1.5, 1.0], dtype=torch.float64))
    theta = torch.tensor([-1.0, -2.0], dtype=torch.float64)
    assert float(path_reward(mdp, theta, [1])) == pytest.approx(-1.0 - 1.0)


def test_action_rewards_and_degree() -> None:
    mdp = small()
    theta = torch.tensor([1.0, 10.0], dtype=torch.float64)
    assert torch.allclose(mdp.action_rewards(theta), torch.tensor([1.5, 6.0, 10.0], dtype=torch.float64))
    assert mdp.out_degree().tolist() == [2, 1, 0]
    assert mdp.src_segments is not None and mdp.src_segments.tolist() == [2, 1, 0]


def test_unsorted_graph_has_no_segments() -> None:
    f = torch.zeros(3, 1)
    assert GraphMDP.from_edges(3, [1, 0], [2, 1], f).src_segments is None


def test_grid_graph_edges() -> None:
    mdp = grid_graph(3, 4, torch.zeros(12, 2))
    # 4-connected grid: 2 * (3*3 + 2*4) directed moves
    assert mdp.num_actions == 2 * (3 * 3 + 2 * 4)
    assert mdp.src_segments is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(src=[0, 5], dst=[1, 1]),  # endpoint out of range
        dict(src=[0], dst=[1, 2]),  # length mismatch
    ],
)
def test_bad_graph_raises(kwargs) -> None:
    with pytest.raises(ConfigError):
        GraphMDP.from_edges(3, kwargs["src"], kwargs["dst"], torch.zeros(3, 1))


def test_bad_feature_shapes_raise() -> None:
    with pytest.raises(ConfigError):
        GraphMDP.from_edges(3, [0], [1], torch.zeros(2, 1))
    with pytest.raises(ConfigError):
        GraphMDP.from_edges(3, [0], [1], torch.zeros(3, 1), torch.zeros(1, 2))
    with pytest.raises(ConfigError):
        grid_graph(0, 3, torch.zeros(0, 1))


def test_bad_graphs_and_arguments_are_refused() -> None:
    f = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ConfigError, match="src"):
        GraphMDP.from_edges(3, [0, -1], [1, 2], f)
    with pytest.raises(ConfigError, match="dst"):
        GraphMDP.from_edges(3, [0, 1], [1, 3], f)
    with pytest.raises(ConfigError, match="finite"):
        GraphMDP.from_edges(3, [0], [1], torch.tensor([[0.0, float("nan")], [0, 0], [0, 0]], dtype=torch.float64))
    with pytest.raises(ConfigError, match="action_features"):
        GraphMDP.from_edges(3, [0], [1], f, torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ConfigError, match="num_states"):
        GraphMDP.from_edges(0, [], [], torch.zeros(0, 2, dtype=torch.float64))
    mdp = small()
    with pytest.raises(ConfigError, match="theta"):
        mdp.action_rewards(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ConfigError, match="finite"):
        mdp.action_rewards(torch.tensor([0.0, float("inf")], dtype=torch.float64))
    with pytest.raises(ConfigError, match="actions"):
        path_features(mdp, [0, 3])
    with pytest.raises(ConfigError, match="actions"):
        path_features(mdp, [-1])
    with pytest.raises(ConfigError, match="state_features"):
        grid_graph(2, 2, torch.zeros(5, 1, dtype=torch.float64))


def test_sparse_plan_sums_parallel_actions() -> None:
    f = torch.zeros(2, 1, dtype=torch.float64)
    mdp = GraphMDP.from_edges(2, [0, 0, 1], [1, 1, 0], f)  # two actions from 0 to 1
    W = mdp.sparse_plan.matrix(np.array([0.25, 0.5, 1.0]))
    assert W.toarray().tolist() == [[0.0, 0.75], [1.0, 0.0]]
    assert mdp.sparse_plan.matrix(np.array([0.25, 0.5, 1.0]), transpose=True).toarray().tolist() == [[0.0, 1.0], [0.75, 0.0]]
    assert mdp.sparse_plan.matrix(np.array([0.25, 0.5, 1.0]), reduce="min").toarray().tolist() == [[0.0, 0.25], [1.0, 0.0]]
