"""Environments of chapter 3: the multi-goal task, a point-mass corridor, and MuJoCo's swimmer with a finish line.

Importing this package registers ``maxentrl/MultiGoal-v0`` with gymnasium.
"""

from __future__ import annotations

import gymnasium

from maxentrl.envs.corridor import CorridorSpec
from maxentrl.envs.multigoal import GOALS, MultiGoalEnv, MultiGoalSpec

__all__ = ["CorridorSpec", "GOALS", "MultiGoalEnv", "MultiGoalSpec", "MULTIGOAL_ID"]

MULTIGOAL_ID = "maxentrl/MultiGoal-v0"
"""The multi-goal task's gymnasium id; ``gymnasium.make(MULTIGOAL_ID, variant="paper", horizon=20)`` gives the paper's version."""

if MULTIGOAL_ID not in gymnasium.registry:
    gymnasium.register(id=MULTIGOAL_ID, entry_point="maxentrl.envs.multigoal:MultiGoalEnv")
