"""Soft Q-learning and DDPG as one actor-critic, trained for many seeds at once.

Haarnoja et al. (2017), Algorithm 1, and its DDPG counterpart share every part
but two: the critic's target (the soft backup of eqs. 10-11 or the hard one)
and the actor's update (amortized SVGD, eqs. 13-14, or the deterministic
policy gradient). :class:`ActorCritic` holds what they share: an ensemble of
E critics Q_θ(s, a) and E actors f^φ(ξ; s) (:class:`~maxentrl.ensemble.EnsembleMLP`,
one member per seed), their target copies, Adam optimizers and the update;
``config.method`` picks the two differing parts from
:mod:`maxentrl.soft_q_learning` or :mod:`maxentrl.ddpg`. :class:`Trainer`
adds the environment loop: exploration noise, the replay memory, periodic
target copies and per-episode statistics.

Shapes: E ensemble members first, then states, then action samples:
``obs[E, B, ds]``, actions ``[E, B, K, da]``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from maxentrl.ddpg import ddpg_policy_loss, hard_q_target
from maxentrl.ensemble import EnsembleMLP, ornstein_uhlenbeck_step
from maxentrl.errors import ConfigError, require_int_at_least, require_positive
from maxentrl.replay import EnsembleReplay
from maxentrl.soft_q_learning import soft_q_target, sql_policy_loss

__all__ = ["AgentConfig", "ActorCritic", "Trainer"]


@dataclass(frozen=True)
class AgentConfig:
    """Hyperparameters of soft Q-learning and DDPG (defaults: the authors' multi-goal script)."""

    method: str = "sql"
    """``"sql"`` (soft Q-learning) or ``"ddpg"``."""
    tau: float = 10.0
    """Temperature τ (the paper's α); SQL only. Also scales the critic's output (see ``q_scale``)."""
    gamma: float = 0.99
    """Discount γ."""
    hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of critic and actor (ReLU)."""
    q_lr: float = 3e-4
    """Adam learning rate of the critic."""
    policy_lr: float = 3e-4
    """Adam learning rate of the actor / sampler."""
    batch_size: int = 64
    """Transitions per mini-batch (each member draws its own)."""
    value_samples: int = 16
    """K_V: uniform action samples for the soft value of eq. 10 (SQL)."""
    svgd_fixed: int = 16
    """M: sampler outputs per state at which the score is evaluated (SQL; App. C.1)."""
    svgd_updated: int = 16
    """K: sampler outputs per state moved along the Stein direction (SQL)."""
    policy_states: int = 64
    """States of the mini-batch used for the actor update (at most ``batch_size``)."""
    repulsive: bool = True
    """Keep the kernel-gradient term of eq. 13 (SQL)."""
    bandwidth_rule: str = "paper"
    """Kernel bandwidth: ``"paper"`` (App. D.1, med/(2 log(M + 1))) or ``"code"`` (the public code's med/log M)."""
    target_update_every: int = 1000
    """Environment steps between hard copies θ̄ ← θ, φ̄ ← φ."""
    min_replay: int = 100
    """Transitions per member before updates start."""
    replay_capacity: int = 1_000_000
    """Replay memory size per member."""
    updates_per_step: int = 1
    """Gradient steps per environment step."""
    ou_theta: float = 0.15
    """Ornstein-Uhlenbeck mean reversion θ of the exploration noise added to actions."""
    ou_sigma: float = 0.3
    """Ornstein-Uhlenbeck scale σ (0 turns the noise off)."""
    q_scale: float = 0.0
    """Fixed factor on the critic network's output (0: use τ), so that the network itself predicts Q/τ = O(1)
    like the authors' reward scaling; the same for both methods."""

    def __post_init__(self) -> None:
        if self.bandwidth_rule not in ("paper", "code"):
            raise ConfigError(f"bandwidth_rule must be 'paper' or 'code', got {self.bandwidth_rule!r}")
        if self.method not in ("sql", "ddpg"):
            raise ConfigError(f"method must be 'sql' or 'ddpg', got {self.method!r}")
        for name in ("tau", "q_lr", "policy_lr"):
            require_positive(name, getattr(self, name))
        if not 0 <= self.gamma < 1:
            raise ConfigError(f"gamma must lie in [0, 1), got {self.gamma!r}")
        for name in ("batch_size", "value_samples", "svgd_fixed", "svgd_updated", "policy_states",
                     "target_update_every", "min_replay", "replay_capacity", "updates_per_step"):
            require_int_at_least(name, getattr(self, name), 1)
        if self.policy_states > self.batch_size:
            raise ConfigError(f"policy_states ({self.policy_states}) cannot exceed batch_size ({self.batch_size})")
        if self.ou_sigma < 0 or not 0 <= self.ou_theta <= 1 or self.q_scale < 0:
            raise ConfigError("ou_sigma and q_scale must be >= 0 and ou_theta in [0, 1]")

    @property
    def critic_scale(self) -> float:
        return self.q_scale if self.q_scale > 0 else self.tau


class ActorCritic:
    """E critics and E actors (one per seed) with targets and optimizers; the update of SQL or DDPG."""

    def __init__(self, config: AgentConfig, *, n_members: int, obs_dim: int, act_dim: int,
                 generator: torch.Generator, device: torch.device | str | None = None) -> None:
        self.config, self.E, self.obs_dim, self.act_dim = config, n_members, obs_dim, act_dim
        self.noise_dim = act_dim if config.method == "sql" else 0
        kw = {"generator": generator, "device": device}
        self.critic = EnsembleMLP(n_members, obs_dim + act_dim, config.hidden, 1, **kw)
        self.actor = EnsembleMLP(n_members, obs_dim + self.noise_dim, config.hidden, act_dim, **kw)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.q_opt = torch.optim.Adam(self.critic.parameters(), lr=config.q_lr, foreach=True)
        self.pi_opt = torch.optim.Adam(self.actor.parameters(), lr=config.policy_lr, foreach=True)
        self.device = device

    # -- evaluation -------------------------------------------------------------
    def q(self, obs: Tensor, actions: Tensor, *, target: bool = False) -> Tensor:
        """Q(s, a) for ``obs[E, B, ds]`` and ``actions[E, B, K, da]`` (or ``[E, B, da]``): ``[E, B, K]`` (or ``[E, B]``)."""
        net = self.critic_target if target else self.critic
        single = actions.dim() == 3
        a = actions.unsqueeze(2) if single else actions
        E, B, K, _ = a.shape
        s = obs.unsqueeze(2).expand(E, B, K, obs.shape[-1])
        out = net(torch.cat([s, a], dim=-1).reshape(E, B * K, -1)).reshape(E, B, K) * self.config.critic_scale
        return out.squeeze(2) if single else out

    def policy_u(self, obs: Tensor, n: int, *, generator: torch.Generator | None = None, target: bool = False) -> Tensor:
        """Unsquashed actions u = f^φ(ξ; s) for ``obs[E, B, ds]``: ``[E, B, n, da]`` (DDPG: n copies of μ(s))."""
        net = self.actor_target if target else self.actor
        E, B, ds = obs.shape
        s = obs.unsqueeze(2).expand(E, B, n, ds)
        if self.noise_dim:
            xi = torch.randn((E, B, n, self.noise_dim), generator=generator, dtype=obs.dtype, device=obs.device)
            s = torch.cat([s, xi], dim=-1)
        return net(s.reshape(E, B * n, -1)).reshape(E, B, n, self.act_dim)

    def actions(self, obs: Tensor, n: int = 1, *, generator: torch.Generator | None = None) -> Tensor:
        """Policy actions a = tanh(u) in [−1, 1]^d for ``obs[E, B, ds]``: ``[E, B, n, da]`` (no exploration noise)."""
        with torch.no_grad():
            return torch.tanh(self.policy_u(obs, n, generator=generator))

    # -- learning ---------------------------------------------------------------
    def update(self, batch: dict[str, Tensor], *, generator: torch.Generator) -> dict[str, float]:
        """One critic step and one actor step on ``batch`` (fields ``[E, B, ...]``) for every member."""
        c = self.config
        obs, act, rew = batch["obs"], batch["action"], batch["reward"]
        nxt, term = batch["next_obs"], batch["terminal"]
        E, B, _ = obs.shape
        with torch.no_grad():
            if c.method == "sql":  # eqs. 10-11: soft value of s' by uniform importance sampling
                a_next = torch.rand((E, B, c.value_samples, self.act_dim), generator=generator, dtype=obs.dtype,
                                    device=obs.device) * 2 - 1
                y = soft_q_target(rew, term, self.q(nxt, a_next, target=True), tau=c.tau, gamma=c.gamma,
                                  act_dim=self.act_dim)
            else:  # the hard backup through the target actor
                a_next = torch.tanh(self.policy_u(nxt, 1, target=True)).squeeze(2)
                y = hard_q_target(rew, term, self.q(nxt, a_next, target=True), gamma=c.gamma)
        q_loss = 0.5 * (self.q(obs, act) - y).square().mean(-1).sum()  # eq. 11, summed over members
        self.q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_opt.step()

        s = obs[:, : c.policy_states]
        if c.method == "sql":
            u = self.policy_u(s, c.svgd_fixed + c.svgd_updated, generator=generator)
            pi_loss = sql_policy_loss(self.q, s, u, n_fixed=c.svgd_fixed, tau=c.tau, repulsive=c.repulsive,
                                      bandwidth_rule=c.bandwidth_rule)
        else:
            pi_loss = ddpg_policy_loss(self.q(s, torch.tanh(self.policy_u(s, 1)).squeeze(2)))
        self.pi_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        self.pi_opt.step()
        return {"q_loss": float(q_loss.detach()) / E}

    def update_targets(self) -> None:
        """θ̄ ← θ, φ̄ ← φ (a hard copy, as in the paper's App. D.1)."""
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.load_state_dict(self.actor.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """Copies of the networks' and optimizers' states (copies: an optimizer's own state_dict shares its tensors)."""
        return copy.deepcopy({k: getattr(self, k).state_dict()
                              for k in ("critic", "actor", "critic_target", "actor_target", "q_opt", "pi_opt")})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            getattr(self, k).load_state_dict(v)


class Trainer:
    """Algorithm 1's loop for an ensemble: act (policy + OU noise), step every member's environment, store, update.

    ``env`` is a batched environment with one copy per member
    (:mod:`maxentrl.envs.vector`). Every finished episode is logged as
    ``{"member", "step", "return", "max_x", "min_x"}`` (the largest and the
    smallest forward position reached, for tasks that report one; else NaN).
    """

    def __init__(self, agent: ActorCritic, env: Any, *, generator: torch.Generator) -> None:
        c = agent.config
        self.agent, self.env, self.generator = agent, env, generator
        self.replay = EnsembleReplay(agent.E, c.replay_capacity, env.obs_dim, env.act_dim, device=agent.device)
        self.steps = 0
        self.noise = torch.zeros((agent.E, env.act_dim), device=agent.device)
        self.ep_return = torch.zeros(agent.E, device=agent.device)
        self.ep_max_x = torch.full((agent.E,), float("-inf"), device=agent.device)
        self.ep_min_x = torch.full((agent.E,), float("inf"), device=agent.device)
        self.episodes: list[dict[str, float]] = []
        self.obs = env.reset()

    def act(self, obs: Tensor) -> Tensor:
        """Exploration actions ``[E, da]``: a sample of the policy plus Ornstein-Uhlenbeck noise, clipped to [−1, 1]."""
        c = self.agent.config
        a = self.agent.actions(obs.unsqueeze(1), 1, generator=self.generator)[:, 0, 0]
        if c.ou_sigma > 0:
            self.noise = ornstein_uhlenbeck_step(self.noise, theta=c.ou_theta, sigma=c.ou_sigma, generator=self.generator)
            a = a + self.noise
        return a.clamp(-1.0, 1.0)

    def run(self, n_steps: int) -> None:
        """``n_steps`` environment steps of every member, each followed by ``updates_per_step`` updates."""
        c = self.agent.config
        for _ in range(n_steps):
            a = self.act(self.obs)
            nxt, r, term, trunc, info = self.env.step(a)
            self.replay.add(self.obs, a, r, nxt, term)
            self.obs = self.env.obs
            self.steps += 1
            self.ep_return += r
            if "x" in info:
                self.ep_max_x = torch.maximum(self.ep_max_x, info["x"])
                self.ep_min_x = torch.minimum(self.ep_min_x, info["x"])
            done = term | trunc
            if bool(done.any()):
                for m in torch.nonzero(done).flatten().tolist():
                    mx = float(self.ep_max_x[m]) if "x" in info else float("nan")
                    mn = float(self.ep_min_x[m]) if "x" in info else float("nan")
                    self.episodes.append({"member": m, "step": self.steps, "return": float(self.ep_return[m]),
                                          "max_x": mx, "min_x": mn})
                self.ep_return = torch.where(done, torch.zeros_like(self.ep_return), self.ep_return)
                self.ep_max_x = torch.where(done, torch.full_like(self.ep_max_x, float("-inf")), self.ep_max_x)
                self.ep_min_x = torch.where(done, torch.full_like(self.ep_min_x, float("inf")), self.ep_min_x)
                self.noise = torch.where(done.unsqueeze(-1), torch.zeros_like(self.noise), self.noise)
            if len(self.replay) >= c.min_replay:
                for _ in range(c.updates_per_step):
                    self.agent.update(self.replay.sample(c.batch_size, generator=self.generator), generator=self.generator)
            if self.steps % c.target_update_every == 0:
                self.agent.update_targets()

    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.state_dict(), "replay": self.replay.state_dict(), "env": self.env.state_dict(),
            "steps": self.steps, "noise": self.noise.clone(), "ep_return": self.ep_return.clone(),
            "ep_max_x": self.ep_max_x.clone(), "ep_min_x": self.ep_min_x.clone(), "episodes": list(self.episodes), "obs": self.obs.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        self.replay.load_state_dict(state["replay"])
        self.env.load_state_dict(state["env"])
        self.steps, self.episodes = int(state["steps"]), list(state["episodes"])
        self.noise, self.ep_return, self.obs = state["noise"], state["ep_return"], state["obs"]
        self.ep_max_x, self.ep_min_x = state["ep_max_x"], state["ep_min_x"]
