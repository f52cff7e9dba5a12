"""The three families of games step through one interface, reset in the same step, and are seeded."""

from __future__ import annotations

import numpy as np
import pytest

from maxentrl.envs import ENV_IDS, env_family, env_spec, make_env
from maxentrl.errors import ConfigError


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MinAtar/Breakout-v1", "ALE/Pong-v5"])
def test_reset_step_and_seeding(env_id: str) -> None:
    spec = env_spec(env_id)
    runs = []
    for _ in range(2):
        env = make_env(env_id, 3, threads=1)
        obs = env.reset(np.array([1, 2, 3]))
        assert obs.shape == (3, *spec.obs_shape)
        rng = np.random.default_rng(0)
        trace = [obs.copy()]
        for _ in range(30):
            obs, reward, done = env.step(rng.integers(0, spec.n_actions, size=3))
            assert reward.shape == (3,) and done.dtype == np.bool_
            trace.append(obs.copy())
        env.close()
        runs.append(np.stack(trace))
    assert np.array_equal(runs[0], runs[1])


def test_same_step_reset_returns_the_next_episode_start() -> None:
    env = make_env("CartPole-v1", 2)
    env.reset(np.array([5, 6]))
    for _ in range(200):
        obs, _, done = env.step(np.zeros(2, dtype=np.int64))  # always push left: falls within ~10 steps
        if done.any():
            assert np.all(np.abs(obs[done]) <= 0.05)  # CartPole starts in [-0.05, 0.05]^4
            break
    else:
        raise AssertionError("CartPole did not end")


def test_specs() -> None:
    assert env_spec("CartPole-v1").trunk == "mlp" and env_spec("CartPole-v1").frames_per_step == 1
    assert env_spec("MinAtar/Breakout-v1").obs_shape == (10, 10, 4)
    pong = env_spec("ALE/Pong-v5")
    assert pong.obs_shape == (4, 84, 84) and pong.frames_per_step == 4 and pong.n_actions == 6
    assert {env_family(e) for e in ENV_IDS} == {"classic", "minatar", "atari"}


def test_unknown_game_and_bad_seeds() -> None:
    with pytest.raises(ConfigError):
        make_env("Pong", 1)
    env = make_env("CartPole-v1", 2)
    with pytest.raises(ConfigError):
        env.reset(np.array([1, 2, 3]))
