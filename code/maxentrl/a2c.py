"""A2C with the naive and the proper entropy bonus, and soft Q-learning with Q = V + τ log π.

Schulman, Chen and Abbeel (2017, §6) compare three update rules that share
everything else (parallel environments, n-step rollouts, the network, the
optimizer and its hyperparameters):

``naive`` (eq. 79)
    the usual A2C: the advantage uses the discounted sum of rewards, and an
    entropy bonus τ H(π(·|s_t)) is added at the visited state only;
``proper`` (eq. 80)
    the returns themselves carry the bonus: r_{t+d} + τ H(π(·|s_{t+d})) at every
    step, so the policy is paid for the entropy it will have later;
``soft_q`` (eqs. 44-47 with the parametrization of §6.3)
    n-step soft Q-learning with Q_θ(s, a) = V_θ(s) + τ log π_θ(a|s), read from the
    same two heads; its gradient scaled as in §6.3 (1/τ into the advantage
    stream, c into the value stream) so that in expectation it is the gradient
    of the proper A2C loss with value coefficient c (eq. 65);
``soft_q_unscaled``
    the same without the scaling: in expectation proper A2C with c = 1/τ and the
    whole gradient multiplied by τ (the paper found c = 1/τ unstable).

The reference policy π̄ is uniform and the bonus is the entropy (the paper's
"EntRL"), which differs from the KL penalty by the constant τ log|A| per step.

Losses are pure functions named after their equations; :func:`train_a2c`
runs an ensemble of agents (members with their own variant, seed, network and
environments) in one process, in lock step.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from maxentrl.envs import env_spec, make_env
from maxentrl.errors import ConfigError
from maxentrl.networks import ActorCritic, clip_grad_norm_per_member

__all__ = [
    "A2C_VARIANTS",
    "n_step_returns",
    "naive_returns",
    "proper_returns",
    "policy_loss",
    "value_loss",
    "a2c_loss",
    "scale_gradient",
    "soft_q_targets",
    "soft_q_loss",
    "A2CSettings",
    "train_a2c",
    "sample_categorical",
    "segment_seeds",
    "EpisodeTracker",
    "child_generator",
]

A2C_VARIANTS = ("naive", "proper", "soft_q", "soft_q_unscaled")


# -- returns --------------------------------------------------------------------
def n_step_returns(rewards: Tensor, dones: Tensor, bootstrap: Tensor, gamma: float) -> Tensor:
    """R_t = r_t + γ (1 − done_t) R_{t+1}, with R_T = ``bootstrap``: each step's return to the rollout's end.

    ``rewards[T, ...]``, ``dones[T, ...]`` (``done_t``: the step t ended the
    episode, so nothing after it counts), ``bootstrap[...]`` = V(s_T) → ``[T, ...]``.
    Step t of a T-step rollout thus gets a (T − t)-step return, as in A2C.
    """
    if rewards.shape != dones.shape or rewards.shape[1:] != bootstrap.shape:
        raise ConfigError(f"rewards {tuple(rewards.shape)}, dones {tuple(dones.shape)} and bootstrap "
                          f"{tuple(bootstrap.shape)} do not fit [T, ...], [T, ...], [...]")
    out = torch.empty_like(rewards)
    R = bootstrap
    not_done = 1.0 - dones.to(rewards.dtype)
    for t in range(rewards.shape[0] - 1, -1, -1):
        R = rewards[t] + gamma * not_done[t] * R
        out[t] = R
    return out


def naive_returns(rewards: Tensor, dones: Tensor, bootstrap: Tensor, *, gamma: float) -> Tensor:
    """Σ_{d<n} γᵈ r_{t+d} + γⁿ V(s_{t+n}): the return of eq. 79 (no entropy in it)."""
    return n_step_returns(rewards, dones, bootstrap, gamma)


def proper_returns(rewards: Tensor, entropies: Tensor, dones: Tensor, bootstrap: Tensor, *, gamma: float,
                   tau: float) -> Tensor:
    """Σ_{d<n} γᵈ (r_{t+d} + τ H(π(·|s_{t+d}))) + γⁿ V(s_{t+n}): the return of eq. 80, entropy-bonus form.

    With a uniform π̄, −τ KL_t = τ H_t − τ log|A|; the bonus form drops the
    constant (Figure 1's "EntRL"). ``entropies[T, ...]`` are H(π(·|s_t)) at the
    rollout's states (no gradient flows through them); ``bootstrap`` = V(s_T),
    an estimate of the entropy-augmented return from s_T.
    """
    return n_step_returns(rewards + tau * entropies, dones, bootstrap, gamma)


# -- losses -----------------------------------------------------------------------
def policy_loss(log_pi_a: Tensor, advantages: Tensor, entropy: Tensor, *, tau: float) -> Tensor:
    """L_policy = −log π_θ(a_t|s_t) Δ_t − τ H(π_θ(·|s_t)), averaged (eq. 84 with π̄ uniform).

    τ D_KL[π ‖ uniform] = −τ H + τ log|A|: the same gradient. ``advantages``
    must carry no gradient.
    """
    return (-log_pi_a * advantages - tau * entropy).mean()


def value_loss(V: Tensor, V_hat: Tensor) -> Tensor:
    """L_value = ½ (V_θ(s_t) − V̂_t)², averaged (eq. 85); ``V_hat`` carries no gradient."""
    return 0.5 * ((V - V_hat) ** 2).mean()


def a2c_loss(log_pi_a: Tensor, entropy: Tensor, V: Tensor, returns: Tensor, *, tau: float, c: float) -> Tensor:
    """L_a2c = L_policy + c L_value (eq. 86) with Δ_t = R_t − V(s_t) and V̂_t = R_t.

    The naive (eq. 79) and proper (eq. 80) rules differ only in the ``returns``
    passed in (:func:`naive_returns`, :func:`proper_returns`).
    """
    R = returns.detach()
    return policy_loss(log_pi_a, R - V.detach(), entropy, tau=tau) + c * value_loss(V, R)


def scale_gradient(x: Tensor, k: float) -> Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``k`` in the backward pass."""
    return k * x + (1.0 - k) * x.detach()


def soft_q_targets(proper: Tensor, entropy: Tensor, *, tau: float) -> Tensor:
    """y_t = R_t − τ H(π(·|s_t)): the n-step soft Q target (eqs. 46-47) in entropy-bonus form.

    Q_θ(s_t, a_t) leaves out the bonus of s_t itself (it does not depend on
    a_t), while the proper return R_t of eq. 80 includes it: y_t = τ KL_t + R_t
    with a uniform π̄ is the same thing up to the constant.
    """
    return proper - tau * entropy


def soft_q_loss(V: Tensor, log_pi_a: Tensor, y: Tensor, *, tau: float, c: float, scaled: bool = True) -> Tensor:
    """½ (Q_θ(s_t, a_t) − y_t)², averaged, with Q_θ = V_θ + τ log π_θ (eq. 44 and §6.3).

    ``scaled``: the §6.3 scaling, gradient ×1/τ into the advantage stream
    τ log π and ×c into the value stream V. Its expected gradient is that of
    :func:`a2c_loss` with the proper returns and value coefficient c. Without
    it the expected gradient is τ × (policy gradient) + 1 × (value gradient),
    i.e. A2C with c = 1/τ, scaled by τ (eq. 65).
    """
    if scaled:
        Q = scale_gradient(V, c) + tau * scale_gradient(log_pi_a, 1.0 / tau)
    else:
        Q = V + tau * log_pi_a
    return 0.5 * ((Q - y.detach()) ** 2).mean()


# -- sampling and bookkeeping ----------------------------------------------------------------
def sample_categorical(logits: Tensor, generator: torch.Generator) -> Tensor:
    """One action per row of ``logits[..., A]`` from softmax(logits), by the inverse CDF of one uniform draw."""
    p = torch.softmax(logits.detach(), dim=-1)
    u = torch.rand(p.shape[:-1] + (1,), generator=generator, dtype=p.dtype, device=p.device)
    return (p.cumsum(-1) < u).sum(-1).clamp(max=p.shape[-1] - 1)


def segment_seeds(run_seed: int, stream: int, segment: int, count: int) -> np.ndarray:
    """Distinct environment seeds for the copies of one segment: a function of (run, stream, segment) only."""
    ss = np.random.SeedSequence([run_seed, stream, segment])
    return ss.generate_state(count, dtype=np.uint32).astype(np.int64) % (2**31 - 1)


class EpisodeTracker:
    """Game scores of finished episodes, per member; the curve is the mean of each member's last ``window`` scores."""

    def __init__(self, members: int, envs_per_member: int, window: int) -> None:
        self.E, self.N, self.window = members, envs_per_member, window
        self.running = np.zeros((members, envs_per_member), dtype=np.float64)
        self.recent: list[list[float]] = [[] for _ in range(members)]
        self.count = np.zeros(members, dtype=np.int64)

    def new_segment(self) -> None:
        """Drop the episodes in progress (the copies are about to be reset)."""
        self.running[:] = 0.0

    def add(self, reward: np.ndarray, done: np.ndarray) -> None:
        """``reward``, ``done``: ``[E, N]`` from one step."""
        self.running += reward
        for e, j in zip(*np.nonzero(done)):
            self.recent[e].append(float(self.running[e, j]))
            del self.recent[e][: -self.window]
            self.count[e] += 1
            self.running[e, j] = 0.0

    def means(self) -> list[float | None]:
        return [float(np.mean(r)) if r else None for r in self.recent]

    def state(self) -> dict:
        return {"running": self.running.copy(), "recent": [list(r) for r in self.recent], "count": self.count.copy()}

    def load(self, state: dict) -> None:
        self.running = state["running"].copy()
        self.recent = [list(r) for r in state["recent"]]
        self.count = state["count"].copy()


# -- training ---------------------------------------------------------------------
@dataclass(frozen=True)
class A2CSettings:
    """Hyperparameters of :func:`train_a2c` (defaults: the A2C of OpenAI Baselines, which §6 starts from)."""

    env_id: str
    steps: int
    """Agent steps per member (frames = steps × frames per step)."""
    n_envs: int = 16
    n_steps: int = 5
    gamma: float = 0.99
    tau: float = 0.01
    lr: float = 7e-4
    lr_decay: bool = True
    rms_alpha: float = 0.99
    rms_eps: float = 1e-5
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    clip_rewards: bool = False
    hidden: int = 64
    segment_updates: int = 2000
    """Updates between the resets of every copy (the only moments a run may checkpoint; see :func:`train_a2c`)."""
    log_every: int = 1000
    """Agent steps per member between two points of the learning curve."""
    episodes_window: int = 20


def _group_loss(variant: str, logits: Tensor, V: Tensor, actions: Tensor, rewards: Tensor, dones: Tensor,
                bootstrap: Tensor, s: A2CSettings) -> Tensor:
    """Sum over the members of one variant of their own mean losses; tensors ``[T, E_v, N, ...]``, bootstrap ``[E_v, N]``.

    Every member averages over the same T·N samples, so the sum of the
    members' means is E_v times the mean over the group, and each member's
    gradient is that of its own loss.
    """
    log_pi = torch.log_softmax(logits, dim=-1)
    log_pi_a = log_pi.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(log_pi.exp() * log_pi).sum(-1)
    members = logits.shape[1]
    if variant == "naive":
        R = naive_returns(rewards, dones, bootstrap, gamma=s.gamma)
        return members * a2c_loss(log_pi_a, entropy, V, R, tau=s.tau, c=s.value_coef)
    H = entropy.detach()
    R = proper_returns(rewards, H, dones, bootstrap, gamma=s.gamma, tau=s.tau)
    if variant == "proper":
        return members * a2c_loss(log_pi_a, entropy, V, R, tau=s.tau, c=s.value_coef)
    y = soft_q_targets(R, H, tau=s.tau)
    return members * soft_q_loss(V, log_pi_a, y, tau=s.tau, c=s.value_coef, scaled=variant == "soft_q")


def child_generator(gen: torch.Generator) -> torch.Generator:
    """A CPU generator seeded by one draw from ``gen`` (network initializations draw from it)."""
    seed = int(torch.randint(2**62, (1,), generator=gen, device=gen.device).item())
    return torch.Generator().manual_seed(seed)


def train_a2c(settings: A2CSettings, variants: Sequence[str], *, ctx, stream: int, desc: str = "A2C") -> dict:
    """Train one agent per entry of ``variants`` (e.g. 3 variants × 5 seeds = 15 members) in lock step.

    Member e has its own network (one slice of an :class:`ActorCritic`
    ensemble), its own ``n_envs`` copies of the game and the update rule
    ``variants[e]`` (one of :data:`A2C_VARIANTS`); all share the optimizer's
    hyperparameters. Every ``segment_updates`` updates all copies are reset
    (new seeds from :func:`segment_seeds`): the run checkpoints only there,
    because an Atari emulator's state cannot be saved, and so a run resumed
    from a checkpoint continues exactly as an uninterrupted one would.
    Episodes still running at a reset are cut (their partial returns are
    bootstrapped by the last rollout as usual, and they do not enter the
    curve).

    ``ctx`` is the harness's :class:`~maxentrl.experiments.harness.RunContext`:
    randomness from ``ctx.generator(stream)``, checkpoints through it.
    Returns ``{"curve_steps": [...], "curves": [E][points], "episodes": [E]}``:
    the mean game score of each member's last ``episodes_window`` episodes
    every ``log_every`` agent steps.
    """
    unknown = sorted(set(variants) - set(A2C_VARIANTS))
    if unknown:
        raise ConfigError(f"unknown A2C variants {unknown} (known: {', '.join(A2C_VARIANTS)})")
    s = settings
    t_start = time.perf_counter()
    spec = env_spec(s.env_id)
    E, N, T = len(variants), s.n_envs, s.n_steps
    gen = ctx.generator(stream)
    device = ctx.device
    net = ActorCritic(spec.obs_shape, spec.n_actions, members=E, trunk=spec.trunk, hidden=s.hidden,
                      generator=child_generator(gen))
    net.to(device)
    params = list(net.parameters())
    opt = torch.optim.RMSprop(params, lr=s.lr, alpha=s.rms_alpha, eps=s.rms_eps)
    env = make_env(s.env_id, E * N)
    tracker = EpisodeTracker(E, N, s.episodes_window)
    total_updates = -(-s.steps // (N * T))
    groups = {v: [e for e, ve in enumerate(variants) if ve == v] for v in dict.fromkeys(variants)}
    state = ctx.restored() or {"update": 0, "segment": 0, "curve_steps": [], "curves": [[] for _ in range(E)]}
    if state["update"]:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        tracker.load(state["tracker"])
    timing = {"setup": time.perf_counter() - t_start, "env": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    bar = ctx.bar(total=total_updates, desc=desc, initial=state["update"])
    while state["update"] < total_updates:
        seeds = segment_seeds(ctx.seed, stream, state["segment"], E * N)
        ta = time.perf_counter()
        obs = torch.as_tensor(env.reset(seeds), device=device).reshape(E, N, *spec.obs_shape)
        timing["env"] += time.perf_counter() - ta
        tracker.new_segment()
        seg_end = min(total_updates, state["update"] + s.segment_updates)
        while state["update"] < seg_end:
            u = state["update"]
            if s.lr_decay:
                for group in opt.param_groups:
                    group["lr"] = s.lr * (1.0 - u / total_updates)
            logits_l, V_l, act_l, rew_l, done_l = [], [], [], [], []
            for _ in range(T):
                ta = time.perf_counter()
                logits, V = net(obs)
                a = sample_categorical(logits, gen)
                tb = time.perf_counter()
                nxt, rew, done = env.step(a.reshape(-1).cpu().numpy())
                tc = time.perf_counter()
                timing["forward"] += tb - ta
                timing["env"] += tc - tb
                rew, done = rew.reshape(E, N), done.reshape(E, N)
                tracker.add(rew, done)
                logits_l.append(logits)
                V_l.append(V)
                act_l.append(a)
                rew_l.append(torch.as_tensor(np.sign(rew) if s.clip_rewards else rew, device=device))
                done_l.append(torch.as_tensor(done, device=device))
                obs = torch.as_tensor(nxt, device=device).reshape(E, N, *spec.obs_shape)
            ta = time.perf_counter()
            with torch.no_grad():
                _, bootstrap = net(obs)
            logits, V = torch.stack(logits_l), torch.stack(V_l)  # [T, E, N, A], [T, E, N]
            actions, rewards = torch.stack(act_l), torch.stack(rew_l).to(V.dtype)
            dones = torch.stack(done_l)
            loss = V.new_zeros(())
            for v, idx in groups.items():
                i = torch.tensor(idx, device=device)
                loss = loss + _group_loss(v, logits[:, i], V[:, i], actions[:, i], rewards[:, i], dones[:, i],
                                          bootstrap[i], s)
            tb = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            tc = time.perf_counter()
            clip_grad_norm_per_member(params, s.max_grad_norm)
            opt.step()
            td = time.perf_counter()
            timing["forward"] += tb - ta
            timing["backward"] += tc - tb
            timing["optimizer"] += td - tc
            state["update"] = u + 1
            steps_done = state["update"] * N * T
            if steps_done // s.log_every > (u * N * T) // s.log_every or state["update"] == total_updates:
                state["curve_steps"].append(steps_done)
                for e, m in enumerate(tracker.means()):
                    state["curves"][e].append(m)
            bar.update(1)
        state["segment"] += 1
        if state["update"] < total_updates and ctx.checkpoint_due():
            ctx.checkpoint({**state, "net": net.state_dict(), "opt": opt.state_dict(), "tracker": tracker.state()})
    bar.close()
    env.close()
    for key, value in timing.items():
        ctx.timings[f"{desc} {key} s"] = round(ctx.timings.get(f"{desc} {key} s", 0.0) + value, 3)
    return {"curve_steps": state["curve_steps"], "curves": state["curves"], "episodes": tracker.count.tolist()}
