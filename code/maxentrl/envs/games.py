"""Batches of environments for chapter 4's learners, through gymnasium and ale-py.

One :class:`BatchedEnv` steps ``num_envs`` copies of a game in lock step and
hides the differences between three families:

* classic control (``CartPole-v1``, ``Acrobot-v1``): gymnasium's own
  environments in a synchronous vector environment;
* MinAtar (``MinAtar/Breakout-v1`` …): the ``minatar`` package's gymnasium
  environments (Young and Tian 2019), registered here on first use; 10×10×C
  boolean frames, one frame per step, sticky actions with probability 0.1 (the
  package's default), the minimal action set;
* Atari (``ALE/Pong-v5`` …): ``ale_py.AtariVectorEnv``, which steps all copies
  in C++ threads and does the standard preprocessing of Mnih et al. (2015):
  4 frames per step (max over the last two), 84×84 grayscale, 4 frames
  stacked, up to 30 no-op actions at the start of an episode, FIRE at the
  start where the game needs it, no sticky actions (as in the ``NoFrameskip``
  games of the paper), an episode ending at game over (not at a life lost)
  and after at most 108,000 frames. The ROMs ship inside the ``ale-py`` wheel.

Every family resets a finished copy in the same step (gymnasium's
``SAME_STEP`` autoreset): the observation returned for a finished copy is the
first of its next episode, and ``done`` says that the transition ended an
episode. A time-limit truncation counts as an end, as in the A2C and DQN
implementations the paper builds on. Rewards are returned raw (game score);
the learners clip them where the config asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from maxentrl.errors import ConfigError, require_int_at_least

__all__ = ["ENV_IDS", "PAPER_GAMES", "BatchedEnv", "env_family", "env_spec", "EnvSpec", "frames_per_step", "make_env"]

CLASSIC = ("CartPole-v1", "Acrobot-v1")
MINATAR = ("MinAtar/Breakout-v1", "MinAtar/Asterix-v1", "MinAtar/Freeway-v1", "MinAtar/Seaquest-v1",
           "MinAtar/SpaceInvaders-v1")
PAPER_GAMES = ("ALE/BeamRider-v5", "ALE/Breakout-v5", "ALE/Enduro-v5", "ALE/Pong-v5", "ALE/Qbert-v5",
               "ALE/Seaquest-v5")
"""The six Atari games of Schulman et al. (2017), Figs. 1-3."""
ENV_IDS = CLASSIC + MINATAR + PAPER_GAMES
"""Every game chapter 4's experiments accept."""

_ROMS = {"ALE/BeamRider-v5": "beam_rider", "ALE/Breakout-v5": "breakout", "ALE/Enduro-v5": "enduro",
         "ALE/Pong-v5": "pong", "ALE/Qbert-v5": "qbert", "ALE/Seaquest-v5": "seaquest"}


def env_family(env_id: str) -> str:
    """``"classic"``, ``"minatar"`` or ``"atari"``."""
    if env_id in CLASSIC:
        return "classic"
    if env_id in MINATAR:
        return "minatar"
    if env_id in PAPER_GAMES:
        return "atari"
    raise ConfigError(f"unknown game {env_id!r} (known: {', '.join(ENV_IDS)})")


def frames_per_step(env_id: str) -> int:
    """Emulator frames per agent step: 4 on Atari (frame skip), 1 on MinAtar and classic control."""
    return 4 if env_family(env_id) == "atari" else 1


@dataclass(frozen=True)
class EnvSpec:
    """What a learner needs to know about a game before making it."""

    env_id: str
    family: str
    obs_shape: tuple[int, ...]
    n_actions: int
    frames_per_step: int
    trunk: str
    obs_dtype: str


_SPECS: dict[str, EnvSpec] = {}


def env_spec(env_id: str) -> EnvSpec:
    """Observation shape, number of actions, frames per agent step and network trunk of ``env_id``."""
    if env_id not in _SPECS:
        env = make_env(env_id, 1)
        family = env_family(env_id)
        _SPECS[env_id] = EnvSpec(env_id=env_id, family=family, obs_shape=env.obs_shape, n_actions=env.n_actions,
                                 frames_per_step=frames_per_step(env_id),
                                 trunk={"classic": "mlp", "minatar": "minatar", "atari": "nature"}[family],
                                 obs_dtype=np.dtype(env.obs_dtype).name)
        env.close()
    return _SPECS[env_id]


def _register_minatar() -> None:
    import gymnasium as gym

    if "MinAtar/Breakout-v1" not in gym.registry:
        from minatar.gym import register_envs

        register_envs()


class BatchedEnv:
    """``num_envs`` copies of ``env_id`` stepped together (see the module docstring for the conventions).

    ``reset(seeds)`` → observations ``[num_envs, *obs_shape]``;
    ``step(actions)`` → ``(obs, reward[num_envs] float32, done[num_envs] bool)``.
    """

    def __init__(self, env_id: str, num_envs: int, *, threads: int = 0) -> None:
        require_int_at_least("num_envs", num_envs, 1)
        self.env_id, self.num_envs = env_id, num_envs
        self.family = env_family(env_id)
        if self.family == "atari":
            from ale_py import AtariVectorEnv

            self._env = AtariVectorEnv(
                _ROMS[env_id], num_envs, num_threads=threads or min(num_envs, os.cpu_count() or 1),
                autoreset_mode="SameStep", reward_clipping=False, episodic_life=False,
                repeat_action_probability=0.0, noop_max=30, frameskip=4, stack_num=4, img_height=84, img_width=84,
                grayscale=True, max_num_frames_per_episode=108_000,
            )
            self.obs_shape = tuple(self._env.single_observation_space.shape)
            self.n_actions = int(self._env.single_action_space.n)
            self.obs_dtype = np.uint8
        else:
            import gymnasium as gym
            from gymnasium.vector import AutoresetMode

            if self.family == "minatar":
                _register_minatar()
            self._env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                                     vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
            self.obs_shape = tuple(self._env.single_observation_space.shape)
            self.n_actions = int(self._env.single_action_space.n)
            self.obs_dtype = np.bool_ if self.family == "minatar" else np.float32

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Start a new episode in every copy, copy i seeded with ``seeds[i]``."""
        seeds = np.asarray(seeds, dtype=np.int64)
        if seeds.shape != (self.num_envs,):
            raise ConfigError(f"reset needs one seed per copy ({self.num_envs}), got shape {seeds.shape}")
        if self.family == "atari":
            obs, _ = self._env.reset(seed=seeds)
        else:
            obs, _ = self._env.reset(seed=[int(s) for s in seeds])
        return np.asarray(obs, dtype=self.obs_dtype)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        obs, reward, terminated, truncated, _ = self._env.step(np.asarray(actions, dtype=np.int64))
        done = np.logical_or(terminated, truncated)
        return np.asarray(obs, dtype=self.obs_dtype), np.asarray(reward, dtype=np.float32), done

    def close(self) -> None:
        self._env.close()


def make_env(env_id: str, num_envs: int, *, threads: int = 0) -> BatchedEnv:
    """A :class:`BatchedEnv` of ``num_envs`` copies of ``env_id`` (one of :data:`ENV_IDS`)."""
    env_family(env_id)
    return BatchedEnv(env_id, num_envs, threads=threads)
