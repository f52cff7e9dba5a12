"""DQN with the standard and the two soft targets of Schulman et al. (2017, §6.2), and n-step returns.

The paper makes a one-line change to a DQN implementation: the value of the
next state in the regression target y_t = r_t + γ V(s_{t+1}) is

* ``standard`` (eq. 81): V(s') = max_a' Q̄(s', a');
* ``soft_kl`` (eq. 82): V(s') = τ log (1/|A|) Σ_a' exp(Q̄(s', a')/τ), the soft
  value with a KL penalty against the uniform policy;
* ``soft_ent`` (eq. 83): V(s') = τ log Σ_a' exp(Q̄(s', a')/τ), the soft value
  with an entropy bonus.

(The paper prints eqs. 82-83 without the factor τ in front of the logarithm;
without it the target would not have the units of a reward. We keep it.) The
two soft targets differ by γ τ log|A| at every step: a constant reward. It
would not change the greedy policy of a never-ending task, but where an
episode can end it pays the agent for every step it survives.

Everything else is the same for all targets: ε-greedy exploration, a replay
memory, a target network Q̄ copied every so many updates, the Huber loss.
``standard_5step`` is the standard target with 5-step returns,
y_t = Σ_{d<5} γᵈ r_{t+d} + γ⁵ max_a' Q̄(s_{t+5}, a'), from stored consecutive
transitions, without off-policy correction (as in the paper's 5-step
Q-learning).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from maxentrl.a2c import EpisodeTracker, child_generator, segment_seeds
from maxentrl.envs import env_spec, make_env
from maxentrl.errors import ConfigError
from maxentrl.networks import ActorCritic, clip_grad_norm_per_member

__all__ = ["DQN_TARGETS", "next_state_value", "dqn_targets", "n_step_dqn_targets", "DQNSettings", "DQNVariant",
           "ReplayMemory", "train_dqn", "epsilon"]

DQN_TARGETS = ("standard", "soft_kl", "soft_ent")


def next_state_value(q_next: Tensor, *, kind: str, tau: float | Tensor = 1.0) -> Tensor:
    """V(s') from Q̄(s', ·) = ``q_next[..., A]``: max (eq. 81), KL soft value (eq. 82) or entropy soft value (eq. 83).

    ``tau``: a number, or a tensor that broadcasts against ``q_next`` without its last axis.
    """
    if kind == "standard":
        return q_next.max(-1).values
    if isinstance(tau, Tensor):
        if not bool(torch.all((tau > 0) & torch.isfinite(tau))):
            raise ConfigError("tau must be positive and finite everywhere")
        t = tau.unsqueeze(-1)
    else:
        if not (tau > 0 and math.isfinite(tau)):
            raise ConfigError(f"tau must be positive and finite, got {tau!r}")
        t = tau
    lse = (t * torch.logsumexp(q_next / t, dim=-1, keepdim=True)).squeeze(-1)
    if kind == "soft_ent":
        return lse
    if kind == "soft_kl":
        return lse - tau * math.log(q_next.shape[-1])
    raise ConfigError(f"unknown DQN target {kind!r} (known: {', '.join(DQN_TARGETS)})")


def dqn_targets(reward: Tensor, done: Tensor, q_next: Tensor, *, kind: str, gamma: float,
                tau: float | Tensor = 1.0) -> Tensor:
    """y_t = r_t + γ (1 − done_t) V(s_{t+1}) with V from :func:`next_state_value` (eqs. 81-83); shapes ``[...]``."""
    return reward + gamma * (1.0 - done.to(reward.dtype)) * next_state_value(q_next, kind=kind, tau=tau)


def n_step_dqn_targets(rewards: Tensor, dones: Tensor, q_n: Tensor, *, kind: str, gamma: float,
                       tau: float | Tensor = 1.0) -> Tensor:
    """y_t = Σ_{d<n} γᵈ r_{t+d} + γⁿ V(s_{t+n}), cut at the first end of episode; ``rewards[..., n]``, ``q_n[..., A]``.

    With n = 1 this is :func:`dqn_targets`.
    """
    n = rewards.shape[-1]
    alive = torch.cumprod(1.0 - dones.to(rewards.dtype), dim=-1)  # alive after step d
    before = torch.cat([torch.ones_like(alive[..., :1]), alive[..., :-1]], dim=-1)  # alive before step d
    discount = gamma ** torch.arange(n, dtype=rewards.dtype, device=rewards.device)
    return (before * discount * rewards).sum(-1) + gamma**n * alive[..., -1] * next_state_value(q_n, kind=kind, tau=tau)


@dataclass(frozen=True)
class DQNVariant:
    """One line of Figure 2: a target, its temperature (soft targets only) and the number of steps n."""

    target: str
    tau: float = 0.0
    n: int = 1

    @property
    def label(self) -> str:
        if self.target == "standard":
            return "standard" if self.n == 1 else f"standard, n={self.n}"
        kind = "KL" if self.target == "soft_kl" else "ent"
        return f"soft ({kind}), tau={self.tau:g}"


def epsilon(step: int, *, start: float, end: float, decay_steps: int) -> float:
    """ε of ε-greedy after ``step`` agent steps: linear from ``start`` to ``end`` over ``decay_steps``, then flat."""
    return end + (start - end) * max(0.0, 1.0 - step / decay_steps)


class ReplayMemory:
    """Per member and per environment copy, the last ``capacity`` transitions in order (a ring per copy).

    Storing each copy's steps contiguously gives n-step returns by reading the
    following entries. Boolean frames (MinAtar) are kept bit-packed. ``cut``
    marks the last step before a reset of all copies (a segment's end): its
    successor is not stored, so no sample may read across it.
    """

    def __init__(self, members: int, envs: int, capacity: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype) -> None:
        self.E, self.N, self.C = members, envs, capacity
        self.obs_shape, self.obs_dtype = tuple(obs_shape), np.dtype(obs_dtype)
        self.packed = self.obs_dtype == np.bool_
        width = math.ceil(math.prod(obs_shape) / 8) if self.packed else math.prod(obs_shape)
        store = np.uint8 if self.packed else self.obs_dtype
        self.obs = np.zeros((members, envs, capacity, width), dtype=store)
        self.action = np.zeros((members, envs, capacity), dtype=np.int16)
        self.reward = np.zeros((members, envs, capacity), dtype=np.float32)
        self.done = np.zeros((members, envs, capacity), dtype=np.bool_)
        self.cut = np.zeros((members, envs, capacity), dtype=np.bool_)
        self.head, self.size = 0, 0

    def _encode(self, obs: np.ndarray) -> np.ndarray:
        flat = obs.reshape(self.E, self.N, -1)
        return np.packbits(flat, axis=-1) if self.packed else flat

    def _decode(self, rows: np.ndarray) -> np.ndarray:
        if self.packed:
            rows = np.unpackbits(rows, axis=-1, count=math.prod(self.obs_shape)).astype(np.bool_)
        return rows.reshape(*rows.shape[:-1], *self.obs_shape)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, done: np.ndarray) -> None:
        """One step of every copy: ``obs[E, N, *obs_shape]`` (before the step), ``action``/``reward``/``done`` ``[E, N]``."""
        h = self.head
        self.obs[:, :, h] = self._encode(obs)
        self.action[:, :, h], self.reward[:, :, h], self.done[:, :, h] = action, reward, done
        self.cut[:, :, h] = False
        self.head = (h + 1) % self.C
        self.size = min(self.size + 1, self.C)

    def mark_cut(self) -> None:
        """The step just added is the last before all copies are reset."""
        self.cut[:, :, (self.head - 1) % self.C] = True

    def sample(self, batch: int, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch`` n-step samples per member: obs ``[E, B, *]``, actions ``[E, B]``, rewards/dones/cuts
        ``[E, B, n]``, and the observations one step and n steps later (``next_obs``, ``nth_obs``, ``[E, B, *]``).

        A sample whose first k steps include a cut must not be used with a k-step target."""
        if self.size <= n:
            raise ConfigError("the replay memory holds too few steps to sample from")
        j = rng.integers(0, self.N, size=(self.E, batch))
        age = rng.integers(n, self.size, size=(self.E, batch))  # steps between the sample and the newest entry + 1
        i = (self.head - 1 - age) % self.C
        e = np.arange(self.E)[:, None]
        idx = (i[..., None] + np.arange(n + 1)) % self.C  # [E, B, n+1]
        ee, jj = e[..., None], j[..., None]
        out = {
            "obs": self._decode(self.obs[e, j, i]),
            "action": self.action[e, j, i].astype(np.int64),
            "reward": self.reward[ee, jj, idx[..., :n]],
            "done": self.done[ee, jj, idx[..., :n]],
            "cut": self.cut[ee, jj, idx[..., :n]],
            "next_obs": self._decode(self.obs[e, j, idx[..., 1]]),
        }
        if n > 1:
            out["nth_obs"] = self._decode(self.obs[e, j, idx[..., n]])
        return out

    def state(self) -> dict:
        return {k: getattr(self, k).copy() for k in ("obs", "action", "reward", "done", "cut")} | {
            "head": self.head, "size": self.size}

    def load(self, state: dict) -> None:
        for k in ("obs", "action", "reward", "done", "cut"):
            setattr(self, k, state[k].copy())
        self.head, self.size = state["head"], state["size"]


@dataclass(frozen=True)
class DQNSettings:
    """Hyperparameters of :func:`train_dqn`, shared by every target."""

    env_id: str
    steps: int
    """Agent steps per member."""
    n_envs: int = 4
    gamma: float = 0.99
    lr: float = 5e-4
    adam_eps: float = 1e-8
    batch_size: int = 64
    memory: int = 20_000
    """Transitions each member keeps (split evenly over its copies)."""
    learning_starts: int = 1_000
    train_every: int = 1
    """Vector steps between two updates (each update: one minibatch per member)."""
    target_every: int = 250
    """Updates between two copies of the online network into the target network."""
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: int = 10_000
    max_grad_norm: float = 10.0
    clip_rewards: bool = False
    hidden: int = 64
    segment_steps: int = 5_000
    """Vector steps between resets of every copy (checkpoints happen only there)."""
    log_every: int = 1_000
    episodes_window: int = 20


def _targets(b: dict[str, Tensor], target: ActorCritic, kinds: list[str], taus: Tensor, ns: Tensor, n_min: int,
             n_max: int, gamma: float) -> tuple[Tensor, Tensor]:
    """Targets ``y[E, B]`` of every member (its own target kind, τ and n) and the weights ``w[E, B]`` of valid samples."""
    reward = b["reward"].to(taus.dtype)
    y = torch.zeros(reward.shape[:2], dtype=taus.dtype, device=taus.device)
    pairs = ([(1, "next_obs")] if n_min == 1 else []) + ([(n_max, "nth_obs")] if n_max > 1 else [])
    for n, key in pairs:
        q_next = target(b[key])[0]
        for kind in dict.fromkeys(kinds):
            rows = torch.tensor([k == kind for k in kinds], device=taus.device).view(-1, 1) & (ns == n)
            if bool(rows.any()):
                y_kind = n_step_dqn_targets(reward[..., :n], b["done"][..., :n], q_next, kind=kind, gamma=gamma, tau=taus)
                y = torch.where(rows, y_kind, y)
    steps = torch.arange(b["cut"].shape[-1], device=taus.device)
    crosses = (b["cut"] & (steps < ns.unsqueeze(-1))).any(-1)
    return y, (~crosses).to(taus.dtype)


def train_dqn(settings: DQNSettings, variants: Sequence[DQNVariant], *, ctx, stream: int, desc: str = "DQN") -> dict:
    """Train one DQN agent per entry of ``variants`` in lock step (an ensemble network, one memory per member).

    Like :func:`maxentrl.a2c.train_a2c`: randomness from ``ctx.generator(stream)``
    (and a NumPy generator seeded from it for the memory's samples), every copy
    reset every ``segment_steps`` vector steps, checkpoints only there.
    Returns ``{"curve_steps", "curves", "episodes"}`` as ``train_a2c`` does.
    """
    for v in variants:
        if v.target not in DQN_TARGETS:
            raise ConfigError(f"unknown DQN target {v.target!r} (known: {', '.join(DQN_TARGETS)})")
        if v.target != "standard" and not v.tau > 0:
            raise ConfigError(f"the soft target {v.target} needs tau > 0, got {v.tau!r}")
    s = settings
    spec = env_spec(s.env_id)
    if spec.family == "atari":
        raise ConfigError("DQN runs on classic-control and MinAtar games only (its replay memory is not built for "
                          "stacked Atari frames)")
    E, N = len(variants), s.n_envs
    gen = ctx.generator(stream)
    device = ctx.device
    net = ActorCritic(spec.obs_shape, spec.n_actions, members=E, trunk=spec.trunk, hidden=s.hidden,
                      generator=child_generator(gen)).to(device)
    target = ActorCritic(spec.obs_shape, spec.n_actions, members=E, trunk=spec.trunk, hidden=s.hidden).to(device)
    target.load_state_dict(net.state_dict())
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=s.lr, eps=s.adam_eps)
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=gen, device=gen.device).item()))
    memory = ReplayMemory(E, N, max(1, s.memory // N), spec.obs_shape, np.dtype(spec.obs_dtype))
    env = make_env(s.env_id, E * N)
    tracker = EpisodeTracker(E, N, s.episodes_window)
    total = -(-s.steps // N)  # vector steps
    n_max = max(v.n for v in variants)
    n_min = min(v.n for v in variants)
    if n_max > 1 and any(1 < v.n < n_max for v in variants):
        raise ConfigError("the DQN variants of one run use n = 1 or one common n > 1")
    kinds = [v.target for v in variants]
    taus = torch.tensor([v.tau or 1.0 for v in variants], device=device).view(E, 1)
    ns = torch.tensor([v.n for v in variants], device=device).view(E, 1)
    state = ctx.restored() or {"step": 0, "segment": 0, "updates": 0, "curve_steps": [], "curves": [[] for _ in range(E)]}
    if state["step"]:
        net.load_state_dict(state["net"])
        target.load_state_dict(state["target"])
        opt.load_state_dict(state["opt"])
        memory.load(state["memory"])
        tracker.load(state["tracker"])
        rng.bit_generator.state = state["rng"]
    timing = {"env": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0, "memory": 0.0}
    bar = ctx.bar(total=total, desc=desc, initial=state["step"])
    while state["step"] < total:
        seeds = segment_seeds(ctx.seed, stream, state["segment"], E * N)
        obs = env.reset(seeds).reshape(E, N, *spec.obs_shape)
        tracker.new_segment()
        seg_end = min(total, state["step"] + s.segment_steps)
        while state["step"] < seg_end:
            k = state["step"]
            ta = time.perf_counter()
            eps = epsilon(k * N, start=s.eps_start, end=s.eps_end, decay_steps=s.eps_decay_steps)
            with torch.no_grad():
                q, _ = net(torch.as_tensor(obs, device=device))
            greedy = q.argmax(-1)
            explore = torch.rand(greedy.shape, generator=gen, device=device) < eps
            random_a = torch.randint(spec.n_actions, greedy.shape, generator=gen, device=device)
            a = torch.where(explore, random_a, greedy).cpu().numpy()
            tb = time.perf_counter()
            nxt, rew, done = env.step(a.reshape(-1))
            tc = time.perf_counter()
            rew, done = rew.reshape(E, N), done.reshape(E, N)
            tracker.add(rew, done)
            memory.add(obs, a, np.sign(rew) if s.clip_rewards else rew, done)
            obs = nxt.reshape(E, N, *spec.obs_shape)
            timing["forward"] += tb - ta
            timing["env"] += tc - tb
            state["step"] = k + 1
            if state["step"] == seg_end:
                memory.mark_cut()
            if (k + 1) * N >= s.learning_starts and memory.size > n_max and (k + 1) % s.train_every == 0:
                t0 = time.perf_counter()
                batch = memory.sample(s.batch_size, n_max, rng)
                t1 = time.perf_counter()
                b = {key: torch.as_tensor(val, device=device) for key, val in batch.items()}
                q, _ = net(b["obs"])
                q_sa = q.gather(-1, b["action"].unsqueeze(-1)).squeeze(-1)  # [E, B]
                with torch.no_grad():
                    y, w = _targets(b, target, kinds, taus, ns, n_min, n_max, s.gamma)
                loss = (F.smooth_l1_loss(q_sa, y, reduction="none") * w).sum(-1) / w.sum(-1).clamp(min=1.0)
                t2 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                t3 = time.perf_counter()
                clip_grad_norm_per_member(params, s.max_grad_norm)
                opt.step()
                state["updates"] += 1
                if state["updates"] % s.target_every == 0:
                    target.load_state_dict(net.state_dict())
                t4 = time.perf_counter()
                timing["memory"] += t1 - t0
                timing["forward"] += t2 - t1
                timing["backward"] += t3 - t2
                timing["optimizer"] += t4 - t3
            steps_done = state["step"] * N
            if steps_done // s.log_every > k * N // s.log_every or state["step"] == total:
                state["curve_steps"].append(steps_done)
                for e, m in enumerate(tracker.means()):
                    state["curves"][e].append(m)
            bar.update(1)
        state["segment"] += 1
        if state["step"] < total and ctx.checkpoint_due():
            ctx.checkpoint({**state, "net": net.state_dict(), "target": target.state_dict(), "opt": opt.state_dict(),
                            "memory": memory.state(), "tracker": tracker.state(), "rng": rng.bit_generator.state})
    bar.close()
    env.close()
    for key, value in timing.items():
        ctx.timings[f"{desc} {key} s"] = round(ctx.timings.get(f"{desc} {key} s", 0.0) + value, 3)
    return {"curve_steps": state["curve_steps"], "curves": state["curves"], "episodes": tracker.count.tolist()}
