"""Tests of maxentrl.mdp: the batched tabular MDP type and its generators."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.mdp import GRID_ACTIONS, TabularMDP, _gamma_draws, gridworld, policy_transition, random_mdp, state_visitation

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_random_mdp_shapes_and_rows() -> None:
    mdp = random_mdp(7, 5, 3, generator=gen(), gamma=0.9)
    assert mdp.P.shape == (7, 5, 3, 5) and mdp.r.shape == (7, 5, 3) and mdp.mu0.shape == (7, 5)
    assert (mdp.batch_size, mdp.n_states, mdp.n_actions) == (7, 5, 3)
    assert torch.allclose(mdp.P.sum(-1), torch.ones(7, 5, 3, dtype=F64), atol=1e-12)
    assert bool((mdp.P >= 0).all())
    assert mdp.dtype == F64 and mdp.gamma == 0.9


def test_random_mdp_is_reproducible_and_seed_dependent() -> None:
    a = random_mdp(3, 4, 2, generator=gen(1))
    b = random_mdp(3, 4, 2, generator=gen(1))
    c = random_mdp(3, 4, 2, generator=gen(2))
    assert torch.equal(a.P, b.P) and torch.equal(a.r, b.r)
    assert not torch.equal(a.P, c.P)


def test_random_mdp_gamma_range_per_mdp() -> None:
    mdp = random_mdp(100, 3, 2, generator=gen(), gamma=(0.5, 0.9))
    g = mdp.gamma_tensor()
    assert g.shape == (100,) and bool(((g >= 0.5) & (g <= 0.9)).all()) and float(g.std()) > 0.05


@pytest.mark.parametrize("c", [0.3, 1.0, 4.0])
def test_gamma_sampler_moments(c: float) -> None:
    x = _gamma_draws((200_000,), c, generator=gen(3), dtype=F64)
    # Gamma(c, 1): mean c, variance c
    assert abs(float(x.mean()) - c) < 4 * math.sqrt(c / 200_000)
    assert abs(float(x.var()) / c - 1) < 0.05


def test_dirichlet_concentration_controls_spread() -> None:
    sharp = random_mdp(50, 6, 2, generator=gen(), concentration=0.05)
    flat = random_mdp(50, 6, 2, generator=gen(), concentration=50.0)
    assert float(sharp.P.amax(-1).mean()) > 0.8 > 0.4 > float(flat.P.amax(-1).mean())


def test_unbatched_input_becomes_batch_of_one() -> None:
    P = torch.full((2, 2, 2), 0.5, dtype=F64)
    mdp = TabularMDP(P=P, r=torch.zeros(2, 2, dtype=F64), gamma=0.5, mu0=torch.tensor([1.0, 0.0], dtype=F64))
    assert mdp.P.shape == (1, 2, 2, 2) and mdp.mu0.shape == (1, 2)


def test_to_and_select() -> None:
    mdp = random_mdp(4, 3, 2, generator=gen(), gamma=(0.1, 0.9))
    m32 = mdp.to(dtype=torch.float32)
    assert m32.P.dtype == torch.float32 and m32.gamma_tensor().dtype == torch.float32
    sub = mdp.select([0, 2])
    assert sub.batch_size == 2 and torch.equal(sub.P[1], mdp.P[2])
    assert torch.equal(sub.gamma_tensor(), mdp.gamma_tensor()[[0, 2]])
    assert mdp.select(1).batch_size == 1


def _good() -> dict:
    return dict(P=torch.full((1, 2, 2, 2), 0.5, dtype=F64), r=torch.zeros(1, 2, 2, dtype=F64), gamma=0.9,
                mu0=torch.tensor([[0.5, 0.5]], dtype=F64))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"P": torch.full((1, 2, 2, 2), 0.6, dtype=F64)}, "probability distribution"),
        ({"P": torch.tensor([[[[1.5, -0.5]] * 2] * 2], dtype=F64)}, "probability distribution"),
        ({"P": torch.full((1, 2, 2, 3), 1 / 3, dtype=F64)}, "shape"),
        ({"P": torch.ones((1, 2, 2, 2), dtype=torch.int64)}, "floating"),
        ({"r": torch.zeros(1, 2, 3, dtype=F64)}, "r must have shape"),
        ({"r": torch.tensor([[[0.0, float("nan")], [0.0, 0.0]]], dtype=F64)}, "finite"),
        ({"mu0": torch.tensor([[0.7, 0.7]], dtype=F64)}, "mu0"),
        ({"mu0": torch.tensor([[1.0]], dtype=F64)}, "mu0 must have shape"),
        ({"gamma": 1.0}, "gamma"),
        ({"gamma": -0.1}, "gamma"),
        ({"gamma": torch.tensor([0.5, 0.5], dtype=F64)}, "gamma"),
        ({"gamma": torch.tensor([1.5], dtype=F64)}, "gamma"),
        ({"P": [[0.5]]}, "torch.Tensor"),
    ],
)
def test_validation_raises_config_error(change: dict, match: str) -> None:
    kwargs = _good() | change
    with pytest.raises(ConfigError, match=match):
        TabularMDP(**kwargs)


def test_random_mdp_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        random_mdp(0, 3, 2, generator=gen())
    with pytest.raises(ConfigError):
        random_mdp(2, 3, 2, generator=gen(), concentration=-1.0)
    with pytest.raises(ConfigError):
        random_mdp(2, 3, 2, generator=gen(), gamma=(0.9, 0.5))


def test_gridworld_structure() -> None:
    n = 4
    mdp = gridworld(n, n, gamma=0.9)
    S, goal = n * n, n * n - 1
    assert mdp.P.shape == (1, S, 4, S) and GRID_ACTIONS == ("up", "down", "left", "right")
    assert bool(((mdp.P == 0) | (mdp.P == 1)).all())  # deterministic
    assert bool((mdp.P[0, goal, :, goal] == 1).all()) and bool((mdp.r[0, goal] == 0).all())  # absorbing goal
    assert bool((mdp.r[0, :goal] == -1).all())
    assert float(mdp.mu0[0, 0]) == 1.0
    # bumping into the border leaves the agent in place; moving right from the start goes to cell 1
    assert float(mdp.P[0, 0, GRID_ACTIONS.index("up"), 0]) == 1.0
    assert float(mdp.P[0, 0, GRID_ACTIONS.index("right"), 1]) == 1.0
    assert float(mdp.P[0, 0, GRID_ACTIONS.index("down"), n]) == 1.0


def test_gridworld_walls_and_errors() -> None:
    mdp = gridworld(3, 3, walls=[(0, 1)])
    assert float(mdp.P[0, 0, GRID_ACTIONS.index("right"), 0]) == 1.0
    with pytest.raises(ConfigError):
        gridworld(3, 3, walls=[(5, 5)])
    with pytest.raises(ConfigError):
        gridworld(3, 3, walls=[(0, 0)])
    with pytest.raises(ConfigError):
        gridworld(1, 1)


def test_state_visitation_counts_steps() -> None:
    mdp = random_mdp(3, 4, 2, generator=gen(), gamma=0.8)
    pi = torch.full((3, 4, 2), 0.5, dtype=F64)
    v = state_visitation(mdp, pi, horizon=10)
    assert torch.allclose(v.sum(-1), torch.full((3,), 10.0, dtype=F64))
    vd = state_visitation(mdp, pi, horizon=200, discounted=True)
    assert torch.allclose(vd.sum(-1), torch.full((3,), 1 / (1 - 0.8), dtype=F64), atol=1e-12)
    P_pi = policy_transition(mdp, pi)
    assert torch.allclose(P_pi.sum(-1), torch.ones(3, 4, dtype=F64))


def test_policy_transition_checks_the_policy() -> None:
    mdp = random_mdp(2, 4, 3, generator=torch.Generator().manual_seed(0), gamma=0.9, dtype=torch.float64)
    with pytest.raises(ConfigError, match=r"pi must have shape \[b, S, A\]"):
        policy_transition(mdp, torch.full((4, 3), 1 / 3, dtype=torch.float64))
    with pytest.raises(ConfigError, match="probability distribution"):
        state_visitation(mdp, torch.full((2, 4, 3), 0.5, dtype=torch.float64), horizon=3)
