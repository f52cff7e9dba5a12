"""The multi-goal environment of Haarnoja et al. (2017), section 5.1 and Figure 1.

A point mass in the plane starts near the origin and moves by its action, a
velocity in [−1, 1]²; four goals sit at (±5, 0) and (0, ±5). Every goal is
equally good, so the maximum-entropy policy should go to each of them at
random, while a deterministic policy must pick one.

The paper and the authors' public code describe the reward differently, and
both are available here (``variant``):

* ``"code"`` (the default, as in the public code): r = −30‖a‖² − min_g ‖s′ − g‖²,
  plus 10 on arriving within distance 1 of a goal, which ends the episode;
  30 steps per episode; positions clipped to [−7, 7]²; the start is
  N(0, 0.1² I).
* ``"paper"``: "a mixture of Gaussians, with means placed at the goal
  positions" and T = 20. The paper gives no widths or heights; we use
  r = 10 Σ_g exp(−‖s′ − g‖²/(2·1.5²)) − 30‖a‖² (the action cost of the
  code kept, so that the two differ only in the shape of the reward
  landscape), episodes that never end early, and the same start.

The dynamics are pure functions of batched tensors (:func:`multigoal_step`),
shared by the gymnasium environment :class:`MultiGoalEnv` (registered as
``maxentrl/MultiGoal-v0``) and the batched training code.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np
import torch
from torch import Tensor

from maxentrl.errors import ConfigError

__all__ = ["MultiGoalSpec", "GOALS", "multigoal_reward", "multigoal_step", "multigoal_reset", "nearest_goal",
           "MultiGoalEnv", "spec_from"]

GOALS = ((5.0, 0.0), (-5.0, 0.0), (0.0, 5.0), (0.0, -5.0))
"""Goal positions, in the order used for goal indices 0-3: east, west, north, south."""


@dataclass(frozen=True)
class MultiGoalSpec:
    """The multi-goal task's constants (defaults: the public code's)."""

    variant: str = "code"
    """``"code"`` (quadratic distance cost, goal bonus, termination) or ``"paper"`` (a mixture of Gaussians)."""
    horizon: int = 30
    """Steps per episode (code: 30; paper: T = 20)."""
    action_cost: float = 30.0
    """Coefficient of ‖a‖² in the cost."""
    distance_cost: float = 1.0
    """Coefficient of min_g ‖s′ − g‖² (``"code"``)."""
    goal_reward: float = 10.0
    """Bonus on reaching a goal (``"code"``), height of each Gaussian (``"paper"``)."""
    goal_width: float = 1.5
    """Standard deviation of each Gaussian bump (``"paper"``)."""
    goal_threshold: float = 1.0
    """A goal is reached within this distance."""
    init_sigma: float = 0.1
    """Standard deviation of the start position around the origin."""
    bound: float = 7.0
    """Positions are clipped to [−bound, bound]²."""

    def __post_init__(self) -> None:
        if self.variant not in ("code", "paper"):
            raise ConfigError(f"variant must be 'code' or 'paper', got {self.variant!r}")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ConfigError(f"horizon must be a positive integer, got {self.horizon!r}")
        for name in ("goal_width", "goal_threshold", "bound"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")

    @property
    def terminates(self) -> bool:
        """Whether reaching a goal ends the episode (the code's version)."""
        return self.variant == "code"

    @classmethod
    def paper(cls) -> MultiGoalSpec:
        """The paper's version: a mixture-of-Gaussians reward and T = 20."""
        return cls(variant="paper", horizon=20, action_cost=0.0, goal_reward=25.0)

    obs_dim = 2
    act_dim = 2

    def reset(self, shape: tuple[int, ...], *, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        """Start positions (:func:`multigoal_reset`)."""
        return multigoal_reset(shape, self, generator=generator, dtype=dtype, device=device)

    def step(self, pos: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step (:func:`multigoal_step`)."""
        return multigoal_step(pos, action, self)


def _goals(like: Tensor) -> Tensor:
    return torch.tensor(GOALS, dtype=like.dtype, device=like.device)


def nearest_goal(pos: Tensor) -> tuple[Tensor, Tensor]:
    """Distance to the nearest goal and its index, for positions ``[..., 2]``: ``([...], [...])``."""
    d = (pos.unsqueeze(-2) - _goals(pos)).norm(dim=-1)  # [..., 4]
    return d.min(dim=-1)


def multigoal_reward(next_pos: Tensor, action: Tensor, spec: MultiGoalSpec) -> Tensor:
    """r(s′, a) of either variant, before the goal bonus of the code's version; ``[...]``."""
    cost = spec.action_cost * action.square().sum(-1)
    d2 = (next_pos.unsqueeze(-2) - _goals(next_pos)).square().sum(-1)  # [..., 4]
    if spec.variant == "code":
        return -cost - spec.distance_cost * d2.min(dim=-1).values
    return spec.goal_reward * torch.exp(-d2 / (2 * spec.goal_width**2)).sum(-1) - cost


def multigoal_step(pos: Tensor, action: Tensor, spec: MultiGoalSpec) -> tuple[Tensor, Tensor, Tensor]:
    """One step from positions ``pos[..., 2]`` with velocities ``action[..., 2]`` (clipped to [−1, 1]).

    Returns ``(next_pos, reward, terminal)``: s′ = clip(s + a), the reward of
    :func:`multigoal_reward` plus, in the code's version, the goal bonus, and
    whether the step ended the episode by reaching a goal (always false in
    the paper's version).
    """
    a = action.clamp(-1.0, 1.0)
    nxt = (pos + a).clamp(-spec.bound, spec.bound)
    r = multigoal_reward(nxt, a, spec)
    reached = nearest_goal(nxt)[0] < spec.goal_threshold
    if spec.terminates:
        return nxt, r + spec.goal_reward * reached.to(r.dtype), reached
    return nxt, r, torch.zeros_like(reached)


def multigoal_reset(shape: tuple[int, ...], spec: MultiGoalSpec, *, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    """Start positions ``[*shape, 2]`` drawn from N(0, init_sigma² I), clipped to the box."""
    z = torch.randn((*shape, 2), generator=generator, dtype=dtype, device=device)
    return (spec.init_sigma * z).clamp(-spec.bound, spec.bound)


class MultiGoalEnv(gymnasium.Env):
    """The multi-goal task as a gymnasium environment (``gymnasium.make("maxentrl/MultiGoal-v0")``).

    Observation: the position, float32 in [−7, 7]². Action: the velocity,
    float32 in [−1, 1]². Keyword arguments are the fields of
    :class:`MultiGoalSpec` (``variant="paper", horizon=20`` for the paper's
    version). ``info["goal"]`` is the index of the goal reached at this
    step (−1 if none).
    """

    metadata = {"render_modes": []}

    def __init__(self, **spec_fields) -> None:
        self.spec_params = MultiGoalSpec(**spec_fields)
        b = np.float32(self.spec_params.bound)
        self.observation_space = gymnasium.spaces.Box(-b, b, shape=(2,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._pos = np.zeros(2, dtype=np.float32)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        z = self.np_random.normal(size=2)
        self._pos = np.clip(self.spec_params.init_sigma * z, -self.spec_params.bound, self.spec_params.bound).astype(np.float32)
        self._t = 0
        return self._pos.copy(), {}

    def step(self, action):
        a = torch.as_tensor(np.asarray(action, dtype=np.float64))
        nxt, r, term = multigoal_step(torch.as_tensor(self._pos, dtype=torch.float64), a, self.spec_params)
        self._pos = nxt.numpy().astype(np.float32)
        self._t += 1
        d, g = nearest_goal(nxt)
        info = {"goal": int(g) if float(d) < self.spec_params.goal_threshold else -1}
        truncated = self._t >= self.spec_params.horizon and not bool(term)
        return self._pos.copy(), float(r), bool(term), truncated, info


def spec_from(variant: str) -> MultiGoalSpec:
    """The spec of ``"code"`` or ``"paper"``."""
    if variant == "code":
        return MultiGoalSpec()
    if variant == "paper":
        return MultiGoalSpec.paper()
    raise ConfigError(f"unknown multi-goal variant {variant!r} (choose code or paper)")

