"""gymnasium's MuJoCo ``Swimmer`` with a finish line (Haarnoja et al. 2017, §5.2, Figures 3a and 6).

The paper's swimming snake "receives a reward equal to its speed along the
x-axis, either forward or backward", and past a finish line ahead "a larger
reward". :class:`FinishLineSwimmer` turns gymnasium's ``Swimmer-v5`` (whose
reward is the forward velocity minus a control cost) into that task:

    r = |v_x| − c‖a‖² + bonus · 1[x ≥ finish],

with the swimmer's x position added to the observation (``Swimmer-v5``
leaves it out by default, and without it the bonus would not be a function
of the state). Episodes last T = 500 steps (the paper's App. D.2).
"""

from __future__ import annotations

import gymnasium
import numpy as np

from maxentrl.errors import ConfigError

__all__ = ["FinishLineSwimmer", "make_finish_line_swimmer", "mujoco_state", "set_mujoco_state"]


class FinishLineSwimmer(gymnasium.Wrapper):
    """Reward |v_x| − control cost, plus ``bonus`` per step at or past x = ``finish``; ``info["x"]`` is the x position."""

    def __init__(self, env: gymnasium.Env, *, finish: float, bonus: float) -> None:
        super().__init__(env)
        if not finish > 0 or not bonus >= 0:
            raise ConfigError(f"the finish line must lie ahead (> 0) and the bonus be >= 0, got {finish!r}, {bonus!r}")
        self.finish, self.bonus = float(finish), float(bonus)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        info["x"] = float(info["x_position"])
        return obs, info

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        x = float(info["x_position"])
        reward = abs(float(info["x_velocity"])) + float(info["reward_ctrl"]) + self.bonus * (x >= self.finish)
        info["x"] = x
        return obs, reward, terminated, truncated, info


def make_finish_line_swimmer(*, finish: float = 3.0, bonus: float = 1.0, horizon: int = 500) -> gymnasium.Env:
    """``Swimmer-v5`` with its x position observed, a ``horizon``-step time limit and the finish-line reward."""
    env = gymnasium.make("Swimmer-v5", exclude_current_positions_from_observation=False, max_episode_steps=horizon)
    return FinishLineSwimmer(env, finish=finish, bonus=bonus)


def mujoco_state(env: gymnasium.Env) -> dict:
    """Everything that determines a MuJoCo gymnasium environment's future: positions, velocities, time, warm start, RNG, elapsed steps."""
    base = env.unwrapped
    limit = _time_limit(env)
    elapsed = None if limit is None else limit._elapsed_steps
    return {
        "qpos": base.data.qpos.copy(), "qvel": base.data.qvel.copy(), "time": float(base.data.time),
        "qacc_warmstart": base.data.qacc_warmstart.copy(), "act": base.data.act.copy(),
        "rng": base.np_random.bit_generator.state, "elapsed": elapsed,
    }


def set_mujoco_state(env: gymnasium.Env, state: dict) -> None:
    """Put back a state from :func:`mujoco_state`."""
    base = env.unwrapped
    base.set_state(np.asarray(state["qpos"]), np.asarray(state["qvel"]))
    base.data.time = state["time"]
    base.data.qacc_warmstart[:] = state["qacc_warmstart"]
    base.data.act[:] = state["act"]
    base.np_random.bit_generator.state = state["rng"]
    limit = _time_limit(env)
    if limit is not None:
        limit._elapsed_steps = state["elapsed"]


def _time_limit(env: gymnasium.Env) -> gymnasium.Env | None:
    """The ``TimeLimit`` wrapper inside ``env``, if any."""
    while env is not None and not isinstance(env, gymnasium.wrappers.TimeLimit):
        env = getattr(env, "env", None)
    return env

