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

import math

import gymnasium
import numpy as np

from maxentrl.errors import ConfigError

__all__ = ["FinishLineSwimmer", "best_traveling_wave", "make_finish_line_swimmer", "mujoco_state", "set_mujoco_state",
           "traveling_wave_x"]


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


def traveling_wave_x(env: gymnasium.Env, period: float, phase: float, *, seed: int = 0) -> float:
    """Where one episode of the open-loop gait a_t = (sin ωt, sin(ωt + φ)), ω = 2π/``period`` (in steps),
    φ = ``phase``, leaves the swimmer ``env`` (from :func:`make_finish_line_swimmer`), reset with ``seed``.

    Both joints swing at full amplitude, one a phase φ behind the other: a wave that
    travels along the body, and so pushes the water one way, when 0 < |φ| < π.
    """
    if not (period >= 2 and math.isfinite(period)) or not math.isfinite(phase):
        raise ConfigError(f"need a finite period of at least 2 steps and a finite phase, got {period!r}, {phase!r}")
    env.reset(seed=seed)
    omega, x, t, done = 2 * math.pi / period, 0.0, 0, False
    while not done:
        a = np.array([math.sin(omega * t), math.sin(omega * t + phase)], dtype=np.float32)
        _, _, terminated, truncated, info = env.step(a)
        x, t, done = info["x"], t + 1, terminated or truncated
    return float(x)


def best_traveling_wave(*, horizon: int = 500, periods: tuple[float, ...] = (30, 40, 50, 60, 70),
                        phases: int = 12, refine: int = 40, seed: int = 0) -> dict[str, dict[str, float]]:
    """The traveling waves (:func:`traveling_wave_x`) that carry the swimmer farthest forward and farthest back in
    one episode of ``horizon`` steps: the best of a grid (``periods`` × ``phases`` phases evenly spaced in
    (−π, π]), each refined by Nelder–Mead over (period, phase) with at most ``refine`` more episodes.

    Returns ``{"forward": {...}, "backward": {...}}``, each with ``period``, ``phase`` and ``x`` (the episode's
    final position). A lower bound on how far some sequence of actions carries the swimmer in an episode.
    """
    from scipy.optimize import minimize

    if not (isinstance(phases, int) and phases >= 2 and isinstance(refine, int) and refine >= 0 and periods):
        raise ConfigError(f"need at least 2 phases, refine >= 0 and some periods, got {phases!r}, {refine!r}, {periods!r}")
    env = make_finish_line_swimmer(horizon=horizon)
    grid = [(float(p), math.pi * (2 * (k + 1) / phases - 1)) for p in periods for k in range(phases)]
    xs = [traveling_wave_x(env, p, f, seed=seed) for p, f in grid]
    out = {}
    for name, sign in (("forward", 1.0), ("backward", -1.0)):
        i = int(np.argmax(sign * np.asarray(xs)))
        start = grid[i]
        best = {"period": start[0], "phase": start[1], "x": xs[i]}

        def loss(v: np.ndarray) -> float:
            if v[0] < 2:
                return math.inf
            x = traveling_wave_x(env, float(v[0]), float(v[1]), seed=seed)
            if sign * x > sign * best["x"]:
                best.update(period=float(v[0]), phase=float(v[1]), x=x)
            return -sign * x

        if refine:
            minimize(loss, np.array(start), method="Nelder-Mead",
                     options={"maxfev": refine, "initial_simplex": np.array([start, (start[0] + 5, start[1]),
                                                                             (start[0], start[1] + 0.3)])})
        out[name] = dict(best)
    env.close()
    return out
