"""Batched environments for an ensemble of agents: one environment per member, stepped together.

Both classes here present the same interface to the training loop
(:class:`maxentrl.actor_critic.Trainer`):

* ``reset() -> obs[E, ds]`` starts every member's episode;
* ``step(action[E, da]) -> (next_obs, reward, terminal, truncated, info)``
  with tensors ``[E, ...]``; a member whose episode ended is reset at once, and
  its new first observation is in :attr:`obs` (``next_obs`` keeps the final
  one, which the replay memory needs); ``info["x"]`` (``[E]``), when present,
  is the forward position of swimmer-like tasks;
* ``state_dict()`` / ``load_state_dict()`` for exact resumption.

:class:`TensorVecEnv` runs a point-mass task (:class:`~maxentrl.envs.multigoal.MultiGoalSpec`,
:class:`~maxentrl.envs.corridor.CorridorSpec`) as pure tensor operations on
the ensemble's device; :class:`GymVecEnv` steps a list of gymnasium
environments (MuJoCo's swimmer) on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least

__all__ = ["TensorVecEnv", "GymVecEnv", "StackedTask"]


class StackedTask:
    """Several point-mass tasks with the same observation and action sizes, side by side: ``counts[i]`` members run ``tasks[i]``.

    Lets one ensemble train, say, four seeds on each of two versions of the
    multi-goal task in one batch. ``horizon`` is a tensor with each member's
    episode length.
    """

    def __init__(self, tasks: list[Any], counts: list[int]) -> None:
        if not tasks or len(tasks) != len(counts) or len({(t.obs_dim, t.act_dim) for t in tasks}) != 1:
            raise ConfigError("StackedTask needs one count per task and tasks of equal observation and action sizes")
        for c in counts:
            require_int_at_least("members per task", c, 1)
        self.tasks, self.counts = list(tasks), list(counts)
        self.obs_dim, self.act_dim = tasks[0].obs_dim, tasks[0].act_dim
        self.horizon = torch.tensor([t.horizon for t, c in zip(tasks, counts) for _ in range(c)])

    def reset(self, shape: tuple[int, ...], **kw: Any) -> Tensor:
        if shape[0] != sum(self.counts):
            raise ConfigError(f"a stacked task has {sum(self.counts)} members, asked for {shape[0]}")
        return torch.cat([t.reset((c, *shape[1:]), **kw) for t, c in zip(self.tasks, self.counts)])

    def step(self, pos: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        parts = [t.step(p, a) for t, p, a in zip(self.tasks, pos.split(self.counts), action.split(self.counts))]
        return tuple(torch.cat(x) for x in zip(*parts))


class TensorVecEnv:
    """``n`` copies of a point-mass task (anything with ``reset``, ``step``, ``horizon``, ``obs_dim``, ``act_dim``)."""

    def __init__(self, task: Any, n: int, *, generator: torch.Generator, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> None:
        require_int_at_least("number of environments", n, 1)
        self.task, self.n, self.generator = task, n, generator
        self.dtype, self.device = dtype, device
        self.obs_dim, self.act_dim = task.obs_dim, task.act_dim
        self.horizon = torch.as_tensor(task.horizon, device=device)
        self.obs = torch.zeros((n, self.obs_dim), dtype=dtype, device=device)
        self.t = torch.zeros(n, dtype=torch.long, device=device)

    def reset(self) -> Tensor:
        self.obs = self.task.reset((self.n,), generator=self.generator, dtype=self.dtype, device=self.device)
        self.t.zero_()
        return self.obs

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        nxt, reward, terminal = self.task.step(self.obs, action)
        self.t += 1
        truncated = (self.t >= self.horizon) & ~terminal
        done = terminal | truncated
        info = {"x": nxt[:, 0]} if self.obs_dim == 1 else {}
        fresh = self.task.reset((self.n,), generator=self.generator, dtype=self.dtype, device=self.device)
        self.obs = torch.where(done.unsqueeze(-1), fresh, nxt)
        self.t = torch.where(done, torch.zeros_like(self.t), self.t)
        return nxt, reward, terminal, truncated, info

    def state_dict(self) -> dict:
        return {"obs": self.obs.clone(), "t": self.t.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.obs, self.t = state["obs"].to(self.device), state["t"].to(self.device)


class GymVecEnv:
    """``n`` gymnasium environments made by ``make()``, stepped one after another; tensors on ``device``.

    Member i's environment is seeded from ``generator`` on the first reset;
    later resets continue its own random stream. ``get_state``/``set_state``
    (e.g. :func:`~maxentrl.envs.swimmer.mujoco_state`) make it resumable.
    """

    def __init__(self, make: Callable[[], Any], n: int, *, generator: torch.Generator, horizon: int,
                 get_state: Callable[[Any], dict], set_state: Callable[[Any, dict], None],
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> None:
        require_int_at_least("number of environments", n, 1)
        self.envs = [make() for _ in range(n)]
        self.n, self.generator, self.horizon = n, generator, horizon
        self._get, self._set = get_state, set_state
        self.dtype, self.device = dtype, device
        self.obs_dim = int(np.prod(self.envs[0].observation_space.shape))
        self.act_dim = int(np.prod(self.envs[0].action_space.shape))
        self.obs = torch.zeros((n, self.obs_dim), dtype=dtype, device=device)

    def _tensor(self, x: Any) -> Tensor:
        return torch.as_tensor(np.asarray(x), dtype=self.dtype, device=self.device)

    def reset(self) -> Tensor:
        seeds = torch.randint(0, 2**31 - 1, (self.n,), generator=self.generator, device=self.generator.device)
        self.obs = self._tensor(np.stack([env.reset(seed=int(s))[0] for env, s in zip(self.envs, seeds)]))
        return self.obs

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        acts = action.detach().cpu().numpy()
        nxt, rew, term, trunc, xs, fresh = [], [], [], [], [], []
        for env, a in zip(self.envs, acts):
            o, r, te, tr, info = env.step(a)
            nxt.append(o), rew.append(r), term.append(te), trunc.append(tr and not te), xs.append(info.get("x", 0.0))
            fresh.append(env.reset()[0] if (te or tr) else o)
        self.obs = self._tensor(np.stack(fresh))
        out = (self._tensor(np.stack(nxt)), self._tensor(rew),
               torch.as_tensor(term, device=self.device), torch.as_tensor(trunc, device=self.device))
        return (*out, {"x": self._tensor(xs)})

    def state_dict(self) -> dict:
        return {"obs": self.obs.clone(), "envs": [self._get(env) for env in self.envs]}

    def load_state_dict(self, state: dict) -> None:
        for env, s in zip(self.envs, state["envs"]):
            env.reset()
            self._set(env, s)
        self.obs = state["obs"].to(self.device)
