"""A point-mass corridor with a finish line: the swimmer task of Haarnoja et al. (2017, §5.2) in one dimension.

The swimmer of the paper "receives a reward equal to its speed along the
x-axis, either forward or backward", and once it "swims far enough forward,
it crosses a finish line and receives a larger reward". Here the swimmer is
a point on a line that moves by its action, a velocity a ∈ [−1, 1]:

    x′ = x + a,   r = |x′ − x| + bonus · 1[x′ ≥ finish].

Speed pays the same in both directions, so early in training there are two
equally good modes; only an agent that keeps going forward for long enough
finds the bonus past the line at ``finish``. It costs a few microseconds per
step for a whole batch, so the book's quick preset can show, in seconds, the
effect that gymnasium's MuJoCo Swimmer shows in hours
(:mod:`maxentrl.envs.swimmer`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from maxentrl.errors import ConfigError

__all__ = ["CorridorSpec"]


@dataclass(frozen=True)
class CorridorSpec:
    """The corridor's constants. Observation: the position x (``[..., 1]``); action: the velocity (``[..., 1]``)."""

    finish: float = 8.0
    """Position of the finish line, ahead of the start at 0."""
    bonus: float = 2.0
    """Extra reward per step spent past the line."""
    horizon: int = 30
    """Steps per episode (no early termination)."""
    init_sigma: float = 0.1
    """Standard deviation of the start position around 0."""

    obs_dim = 1
    act_dim = 1

    def __post_init__(self) -> None:
        if not self.finish > 0:
            raise ConfigError(f"finish must be positive, got {self.finish!r}")
        if not self.bonus >= 0:
            raise ConfigError(f"bonus must be >= 0, got {self.bonus!r}")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise ConfigError(f"horizon must be a positive integer, got {self.horizon!r}")

    def reset(self, shape: tuple[int, ...], *, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        """Start positions ``[*shape, 1]`` from N(0, init_sigma²)."""
        return self.init_sigma * torch.randn((*shape, 1), generator=generator, dtype=dtype, device=device)

    def step(self, pos: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(next_pos, reward, terminal)`` for positions and velocities ``[..., 1]`` (the velocity clipped to [−1, 1])."""
        a = action.clamp(-1.0, 1.0)
        nxt = pos + a
        r = a.abs().squeeze(-1) + self.bonus * (nxt.squeeze(-1) >= self.finish).to(pos.dtype)
        return nxt, r, torch.zeros(r.shape, dtype=torch.bool, device=r.device)
