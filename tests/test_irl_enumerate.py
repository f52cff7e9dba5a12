"""Brute-force path enumeration (maxentrl.irl.enumerate)."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.baselines import label_bias_example
from maxentrl.irl.enumerate import enumerate_paths, enumerated_visitation
from maxentrl.irl.graph import GraphMDP


def test_fig2_has_three_paths() -> None:
    mdp, A, B, paths = label_bias_example()
    found = sorted(enumerate_paths(mdp, A, B, max_actions=10))
    assert found == sorted(paths)


def test_paths_on_a_cycle_grow_with_horizon() -> None:
    # 0 <-> 1 -> 2: paths 0->1->2, 0->1->0->1->2, ... one more per two extra actions
    mdp = GraphMDP.from_edges(3, [0, 1, 1], [1, 0, 2], torch.zeros(3, 1))
    assert [len(enumerate_paths(mdp, 0, 2, max_actions=n)) for n in (1, 2, 4, 6)] == [0, 1, 2, 3]


def test_enumerated_visitation_on_equal_rewards() -> None:
    mdp, A, B, _ = label_bias_example()
    D_state, D_action, log_Z = enumerated_visitation(mdp, torch.zeros(1, dtype=torch.float64), A, B, max_actions=5)
    assert float(log_Z) == pytest.approx(torch.log(torch.tensor(3.0)).item())
    assert float(D_state[A]) == pytest.approx(1.0) and float(D_state[B]) == pytest.approx(1.0)
    assert float(D_action[0]) == pytest.approx(2 / 3) and float(D_action[1]) == pytest.approx(1 / 3)


def test_limit_and_unreachable_raise() -> None:
    mdp = GraphMDP.from_edges(3, [0, 1, 1], [1, 0, 2], torch.zeros(3, 1))
    with pytest.raises(ConfigError):
        enumerate_paths(mdp, 0, 2, max_actions=40, limit=5)
    with pytest.raises(ConfigError):
        enumerated_visitation(mdp, torch.zeros(1), 2, 0, max_actions=3)


def test_bad_arguments_are_refused() -> None:
    from maxentrl.irl.baselines import label_bias_example

    mdp, A, B, _ = label_bias_example()
    with pytest.raises(ConfigError, match="goal"):
        enumerate_paths(mdp, A, 7, max_actions=3)
    with pytest.raises(ConfigError, match="start"):
        enumerate_paths(mdp, -1, B, max_actions=3)
    with pytest.raises(ConfigError, match="finite"):
        enumerated_visitation(mdp, torch.tensor([float("nan")], dtype=torch.float64), A, B, max_actions=3)
