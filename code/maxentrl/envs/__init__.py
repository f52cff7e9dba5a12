"""The book's environments.

Chapter 3: the multi-goal task, a point-mass corridor, and MuJoCo's swimmer with a
finish line. Chapter 4 (:mod:`maxentrl.envs.games`): classic control, MinAtar and
Atari games behind one batched interface.

Importing this package registers ``maxentrl/MultiGoal-v0`` with gymnasium.
"""

from __future__ import annotations

import gymnasium

from maxentrl.envs.corridor import CorridorSpec
from maxentrl.envs.games import ENV_IDS, PAPER_GAMES, BatchedEnv, EnvSpec, env_family, env_spec, frames_per_step, make_env
from maxentrl.envs.multigoal import GOALS, MultiGoalEnv, MultiGoalSpec

__all__ = [
    "CorridorSpec", "GOALS", "MultiGoalEnv", "MultiGoalSpec", "MULTIGOAL_ID",
    "ENV_IDS", "PAPER_GAMES", "BatchedEnv", "EnvSpec", "env_family", "env_spec", "frames_per_step", "make_env",
]

MULTIGOAL_ID = "maxentrl/MultiGoal-v0"
"""The multi-goal task's gymnasium id; ``gymnasium.make(MULTIGOAL_ID, variant="paper", horizon=20)`` gives the paper's version."""

if MULTIGOAL_ID not in gymnasium.registry:
    gymnasium.register(id=MULTIGOAL_ID, entry_point="maxentrl.envs.multigoal:MultiGoalEnv")
