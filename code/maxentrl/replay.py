"""A replay memory for an ensemble of agents: one ring buffer per member, stored as stacked tensors.

Every member (one seed of an agent, with its own environment) adds one
transition (s, a, r, s', terminal) per environment step, and draws its own
uniformly random mini-batches from its own past (Haarnoja et al. 2017,
Algorithm 1: "Save the new experience in the replay memory", "Sample a
minibatch from the replay memory"). Storage is ``[E, capacity, ...]``; when
full, the oldest transitions are overwritten.

``state_dict`` holds only the filled part, in float32 (booleans for the
terminal flags), so that a checkpoint stays small and restores the buffer
exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least

__all__ = ["EnsembleReplay"]

FIELDS = ("obs", "action", "reward", "next_obs", "terminal")


class EnsembleReplay:
    """Ring buffers of capacity ``capacity`` for ``n_members`` members, all filled at the same rate."""

    def __init__(self, n_members: int, capacity: int, obs_dim: int, act_dim: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> None:
        require_int_at_least("n_members", n_members, 1)
        require_int_at_least("capacity", capacity, 1)
        require_int_at_least("obs_dim", obs_dim, 1)
        require_int_at_least("act_dim", act_dim, 1)
        self.n_members, self.capacity = n_members, capacity
        shape = {"obs": (obs_dim,), "action": (act_dim,), "reward": (), "next_obs": (obs_dim,), "terminal": ()}
        self.data = {
            k: torch.zeros((n_members, capacity, *s), dtype=torch.bool if k == "terminal" else dtype, device=device)
            for k, s in shape.items()
        }
        self.size = 0
        self.cursor = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: Tensor, action: Tensor, reward: Tensor, next_obs: Tensor, terminal: Tensor) -> None:
        """Store one transition per member: ``obs[E, ds]``, ``action[E, da]``, ``reward[E]``, ``next_obs[E, ds]``, ``terminal[E]``."""
        values = {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs, "terminal": terminal}
        for k, v in values.items():
            want = (self.n_members, *self.data[k].shape[2:])
            if tuple(v.shape) != want:
                raise ConfigError(f"{k} must have shape {want}, got {tuple(v.shape)}")
            self.data[k][:, self.cursor] = v.to(self.data[k].dtype)
        self.cursor = (self.cursor + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """A uniformly random mini-batch per member (with replacement): each field ``[E, batch_size, ...]``."""
        require_int_at_least("batch_size", batch_size, 1)
        if self.size == 0:
            raise ConfigError("cannot sample from an empty replay memory")
        device = self.data["reward"].device
        idx = torch.randint(0, self.size, (self.n_members, batch_size), generator=generator, device=device)
        out = {}
        for k, v in self.data.items():
            index = idx.view(*idx.shape, *([1] * (v.dim() - 2))).expand(-1, -1, *v.shape[2:])
            out[k] = torch.gather(v, 1, index)
        return out

    def state_dict(self) -> dict:
        """The filled part of the buffers (in storage order) plus the write position."""
        return {"size": self.size, "cursor": self.cursor, **{k: v[:, : self.size].clone() for k, v in self.data.items()}}

    def load_state_dict(self, state: dict) -> None:
        size = int(state["size"])
        if not 0 <= size <= self.capacity:
            raise ConfigError(f"a replay state of size {size} does not fit a capacity of {self.capacity}")
        for k in FIELDS:
            self.data[k][:, :size] = state[k].to(self.data[k].device)
        self.size, self.cursor = size, int(state["cursor"])
