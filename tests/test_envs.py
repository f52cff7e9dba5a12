"""Chapter 3's environments: multi-goal (gymnasium, both versions), corridor, finish-line swimmer, batched wrappers."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from maxentrl.envs import MULTIGOAL_ID, CorridorSpec, MultiGoalSpec
from maxentrl.envs.multigoal import multigoal_step, spec_from
from maxentrl.envs.vector import StackedTask, TensorVecEnv
from maxentrl.errors import ConfigError


@pytest.mark.parametrize("kwargs", [{}, {"variant": "paper", "horizon": 20, "action_cost": 0.0, "goal_reward": 25.0}])
def test_multigoal_passes_gymnasium_check_env(kwargs: dict) -> None:
    env = gymnasium.make(MULTIGOAL_ID, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)


def test_code_reward_goal_bonus_and_termination() -> None:
    spec = MultiGoalSpec()
    pos = torch.tensor([[0.0, 0.0], [4.5, 0.0], [6.9, 6.9]], dtype=torch.float64)
    a = torch.tensor([[0.5, -0.5], [0.3, 0.0], [1.0, 1.0]], dtype=torch.float64)
    nxt, r, term = multigoal_step(pos, a, spec)
    torch.testing.assert_close(nxt[2], torch.tensor([7.0, 7.0], dtype=torch.float64))  # clipped to the box
    d2 = min((0.5 - gx) ** 2 + (-0.5 - gy) ** 2 for gx, gy in ((5, 0), (-5, 0), (0, 5), (0, -5)))
    assert math.isclose(float(r[0]), -30 * 0.5 - d2)
    assert bool(term[1]) and math.isclose(float(r[1]), -30 * 0.09 - 0.2**2 + 10)
    assert not bool(term[0])


def test_paper_version_is_a_gaussian_mixture_without_termination() -> None:
    spec = spec_from("paper")
    assert spec.horizon == 20 and not spec.terminates
    nxt, r, term = multigoal_step(torch.tensor([[5.0, -1.0]]), torch.tensor([[0.0, 1.0]]), spec)
    expect = sum(25 * math.exp(-((5 - gx) ** 2 + gy**2) / (2 * 1.5**2)) for gx, gy in ((5, 0), (-5, 0), (0, 5), (0, -5)))
    assert math.isclose(float(r[0]), expect, rel_tol=1e-6) and not bool(term[0])
    with pytest.raises(ConfigError):
        spec_from("other")


def test_corridor_pays_speed_both_ways_and_a_bonus_past_the_line() -> None:
    spec = CorridorSpec(finish=2.0, bonus=3.0, horizon=5)
    nxt, r, term = spec.step(torch.tensor([[0.0], [1.5], [0.0]]), torch.tensor([[-0.7], [0.8], [4.0]]))
    assert torch.allclose(r, torch.tensor([0.7, 3.8, 1.0])) and not bool(term.any())
    assert torch.allclose(nxt[:, 0], torch.tensor([-0.7, 2.3, 1.0]))


def test_vector_env_resets_finished_members_and_keeps_final_observation() -> None:
    g = torch.Generator().manual_seed(0)
    task = StackedTask([MultiGoalSpec(), spec_from("paper")], [2, 1])
    env = TensorVecEnv(task, 3, generator=g)
    env.reset()
    env.obs = torch.tensor([[4.5, 0.0], [0.0, 0.0], [4.5, 0.0]])
    nxt, r, term, trunc, _ = env.step(torch.tensor([[0.3, 0.0], [0.0, 0.0], [0.3, 0.0]]))
    assert term.tolist() == [True, False, False]
    assert torch.allclose(nxt[0], torch.tensor([4.8, 0.0])) and float(env.obs[0].norm()) < 1.0  # reset after the goal
    for _ in range(19):
        _, _, _, trunc, _ = env.step(torch.zeros(3, 2))
    assert trunc.tolist() == [False, False, True]  # the paper's T = 20 ends first
    state = env.state_dict()
    other = TensorVecEnv(task, 3, generator=torch.Generator())
    other.load_state_dict(state)
    assert torch.equal(other.obs, env.obs) and torch.equal(other.t, env.t)


def test_finish_line_swimmer_reward_and_exact_state_round_trip() -> None:
    pytest.importorskip("mujoco")
    from maxentrl.envs.swimmer import make_finish_line_swimmer, mujoco_state, set_mujoco_state

    env = make_finish_line_swimmer(finish=0.05, bonus=5.0, horizon=50)
    obs, info = env.reset(seed=0)
    assert obs.shape == (10,)  # x position included
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs, r, term, trunc, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        expect = abs(info["x_velocity"]) + info["reward_ctrl"] + 5.0 * (info["x_position"] >= 0.05)
        assert math.isclose(r, expect, rel_tol=1e-6) and info["x"] == info["x_position"]
    state = mujoco_state(env)
    actions = rng.uniform(-1, 1, (10, 2)).astype(np.float32)
    first = [env.step(a)[0] for a in actions]
    twin = make_finish_line_swimmer(finish=0.05, bonus=5.0, horizon=50)
    twin.reset(seed=123)
    set_mujoco_state(twin, state)
    second = [twin.step(a)[0] for a in actions]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_a_traveling_wave_swims_past_the_full_presets_line_in_one_episode() -> None:
    pytest.importorskip("mujoco")
    from maxentrl.envs.swimmer import best_traveling_wave, make_finish_line_swimmer, traveling_wave_x
    from maxentrl.experiments.ch03_soft_q_learning import FULL

    env = make_finish_line_swimmer(horizon=FULL.c34_horizon)
    # the wave travels tail-ward for one sign of the phase and head-ward for the other; a standing wave stays put
    assert traveling_wave_x(env, 43.0, -0.93) > FULL.c34_finish and traveling_wave_x(env, 57.0, 0.42) < -FULL.c34_finish
    assert traveling_wave_x(env, 43.0, 0.93) < 0 < traveling_wave_x(env, 57.0, -0.42)
    assert abs(traveling_wave_x(env, 43.0, math.pi)) < 0.1
    assert traveling_wave_x(env, 43.0, -0.93) == traveling_wave_x(env, 43.0, -0.93)  # deterministic for a seed
    grid = best_traveling_wave(horizon=FULL.c34_horizon, periods=(40, 50), phases=6, refine=0)
    fwd, back = grid["forward"], grid["backward"]
    assert fwd["x"] > 0 > back["x"] and fwd["phase"] < 0 < back["phase"]
    assert fwd["x"] == traveling_wave_x(env, fwd["period"], fwd["phase"])
    refined = best_traveling_wave(horizon=FULL.c34_horizon, periods=(40, 50), phases=6, refine=8)
    assert refined["forward"]["x"] >= fwd["x"] and refined["backward"]["x"] <= back["x"]
    with pytest.raises(ConfigError, match="period of at least 2 steps"):
        traveling_wave_x(env, 1.0, 0.0)
    with pytest.raises(ConfigError, match="at least 2 phases"):
        best_traveling_wave(phases=1)
