"""Chapter 3's experiment: SVGD, amortized SVGD, and soft Q-learning against DDPG (claims C3.1-C3.4).

C3.1  SVGD on the 1-D mixture ⅓N(−2, 1) + ⅔N(2, 1) from particles drawn from
      N(−10, 1) recovers the mode weights; without the repulsive term the
      particles collapse onto the modes.
C3.2  An amortized sampler trained by eq. 14 on a fixed 2-D mixture of
      Gaussians with unequal weights covers every mode in proportion (and
      collapses without the repulsive term).
C3.3  Multi-goal task (section 5.1, Figure 1): every soft Q-learning seed
      reaches all four goals; DDPG, seed by seed, commits to one. Trained on
      the public code's version and the paper's version of the task at once
      (an ensemble axis over seeds and versions).
C3.4  A swimmer rewarded for speed in either direction, with a bonus past a
      finish line (section 5.2, Figure 3a): every SQL seed crosses the line;
      some DDPG seeds swim backwards for good. ``quick``: a point-mass
      corridor; ``full``: gymnasium's MuJoCo Swimmer.

Every seed of a method trains in one process, as one ensemble
(:mod:`maxentrl.actor_critic`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from maxentrl.actor_critic import ActorCritic, AgentConfig, Trainer
from maxentrl.envs.corridor import CorridorSpec
from maxentrl.envs.multigoal import GOALS, nearest_goal, spec_from
from maxentrl.envs.vector import GymVecEnv, StackedTask, TensorVecEnv
from maxentrl.errors import ConfigError
from maxentrl.experiments.config import ExperimentConfig, bounded, choice
from maxentrl.experiments.harness import Experiment, RunContext, register
from maxentrl.svgd import amortized_svgd_loss, median_bandwidth, svgd_direction

__all__ = ["Ch03Config", "run", "mixture_1d_log_density", "mixture_2d", "EXPERIMENT", "Q_STATES", "partial_result",
           "save_partial", "full_run_status", "preset_budget_status", "PRESET_BUDGET_FOLDER"]

Q_STATES = ((-2.5, 0.0), (0.0, 0.0), (2.5, 2.5))
"""States at which Figure 1 (right) shows Q over actions (the public code's plotter)."""

MIX1D = ((1 / 3, -2.0, 1.0), (2 / 3, 2.0, 1.0))
"""C3.1's target: (weight, mean, standard deviation) of each component."""


@dataclass(frozen=True)
class Ch03Config(ExperimentConfig):
    """Configuration of chapter 3's experiment."""

    cpu_threads: int = bounded(1, 0, 256)
    """Torch threads on the CPU (0: leave torch's default)."""

    svgd_particles: int = bounded(100, 2, 100_000)
    """C3.1: number of SVGD particles."""

    svgd_iterations: int = bounded(2000, 1, 10**6)
    """C3.1: SVGD iterations."""

    svgd_step: float = bounded(0.5, 1e-6, 10.0)
    """C3.1: base step size (scaled per particle by AdaGrad, as in Liu and Wang's code)."""

    amortized_steps: int = bounded(1200, 1, 10**6)
    """C3.2: Adam steps of the amortized sampler."""

    amortized_particles: int = bounded(64, 2, 4096)
    """C3.2: sampler outputs per step, split in half into the fixed and the moved particles."""

    amortized_lr: float = bounded(1e-3, 1e-6, 1.0)
    """C3.2: Adam learning rate of the sampler."""

    amortized_eval: int = bounded(20_000, 100, 10**7)
    """C3.2: samples drawn to measure the mode weights."""

    mg_seeds: int = bounded(3, 1, 256)
    """C3.3: seeds per method and per version of the task (all in one ensemble)."""

    mg_variants: str = choice("both", "both", "code", "paper")
    """C3.3: which version of the multi-goal task to train on (``both``: code's and paper's side by side)."""

    mg_steps: int = bounded(4000, 1, 10**7)
    """C3.3: environment steps per seed (public code: 100,000; paper: 1,000,000)."""

    mg_hidden: int = bounded(64, 4, 4096)
    """C3.3: width of the two hidden layers (code: 128; paper: 200)."""

    mg_tau: float = bounded(10.0, 1e-3, 1e3)
    """C3.3: temperature τ (paper's α = 10; the code's reward scale 0.1)."""

    mg_particles: int = bounded(16, 1, 1024)
    """C3.3: SVGD particles per state, M = K (code: 16 + 16; paper: 100 + 100)."""

    mg_value_samples: int = bounded(16, 1, 1024)
    """C3.3: K_V, uniform samples for the soft value (code: 16; paper: 50)."""

    mg_policy_states: int = bounded(32, 1, 1024)
    """C3.3: states of each mini-batch used for the actor update (at most 64)."""

    mg_q_lr: float = bounded(1e-3, 1e-6, 1.0)
    """C3.3: critic learning rate (paper: 1e-3; code: 3e-4)."""

    mg_policy_lr: float = bounded(1e-3, 1e-6, 1.0)
    """C3.3: actor learning rate (paper: 1e-4; code: 3e-4)."""

    mg_target_update: int = bounded(500, 1, 10**6)
    """C3.3: environment steps between target copies (paper and code: 1000)."""

    sql_bandwidth: str = choice("code", "code", "paper")
    """C3.3-C3.4: soft Q-learning's kernel bandwidth rule (the public code's med/log M, or App. D.1's)."""

    mg_eval_rollouts: int = bounded(100, 1, 100_000)
    """C3.3: evaluation rollouts per seed from the start distribution."""

    c34_task: str = choice("corridor", "corridor", "swimmer")
    """C3.4: the point-mass corridor (quick) or gymnasium's MuJoCo Swimmer with a finish line (full)."""

    c34_seeds: int = bounded(8, 1, 256)
    """C3.4: seeds per method."""

    c34_steps: int = bounded(3000, 1, 10**8)
    """C3.4: environment steps per seed."""

    c34_hidden: int = bounded(32, 4, 4096)
    """C3.4: width of the two hidden layers (paper: 200)."""

    c34_tau: float = bounded(1.0, 1e-4, 1e3)
    """C3.4: temperature τ (paper's swimmer: α = 0.1)."""

    c34_particles: int = bounded(8, 1, 1024)
    """C3.4: SVGD particles per state, M = K (paper: 16 + 16)."""

    c34_value_samples: int = bounded(16, 1, 1024)
    """C3.4: K_V for the soft value (paper: 50)."""

    c34_lr: float = bounded(1e-3, 1e-6, 1.0)
    """C3.4: learning rate of critic and actor."""

    c34_target_update: int = bounded(100, 1, 10**6)
    """C3.4: environment steps between target copies (paper's swimmer: 5000)."""

    c34_finish: float = bounded(10.0, 1e-3, 1e3)
    """C3.4: distance of the finish line ahead of the start."""

    c34_bonus: float = bounded(3.0, 0.0, 1e3)
    """C3.4: reward per step past the finish line, on top of the speed."""

    c34_horizon: int = bounded(30, 1, 100_000)
    """C3.4: steps per episode (paper's swimmer: 500)."""

    c34_min_replay: int = bounded(100, 1, 10**6)
    """C3.4: transitions per seed before updates start (paper: 10,000)."""

    c34_eval_rollouts: int = bounded(20, 1, 10_000)
    """C3.4: evaluation rollouts per seed of the final policy."""

    chunk: int = bounded(250, 1, 10**6)
    """Environment steps between checkpoint opportunities of the training loops."""

    def check(self) -> None:
        if self.mg_policy_states > 64:
            raise ConfigError(f"mg_policy_states must be at most the mini-batch size 64, got {self.mg_policy_states}")
        if self.mg_seeds * self.mg_steps > 10**9 or self.c34_seeds * self.c34_steps > 10**9:
            raise ConfigError("seeds × steps must stay below 1e9 (the replay memory would not fit)")


# -- C3.1: SVGD in one dimension ------------------------------------------------
def mixture_1d_log_density(x: Tensor) -> Tensor:
    """log p(x) of ⅓N(−2, 1) + ⅔N(2, 1), elementwise."""
    comps = [math.log(w) - 0.5 * ((x - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi)) for w, m, s in MIX1D]
    return torch.logsumexp(torch.stack(comps), dim=0)


def _score(log_density, x: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(log_density(x).sum(), x)
    return g


def _svgd_1d(config: Ch03Config, ctx: RunContext) -> dict:
    gen = ctx.generator(1)
    x0 = -10.0 + torch.randn((config.svgd_particles, 1), generator=gen, dtype=torch.float64, device=gen.device)
    out: dict = {"c31_init": x0[:, 0].tolist()}
    snapshots = sorted({0, 50, 200, 1000, config.svgd_iterations} & set(range(config.svgd_iterations + 1)))
    for name, repulsive in (("svgd", True), ("no_repulsion", False)):
        x = x0.clone()
        hist = torch.zeros_like(x)
        shots = {}
        for it in range(config.svgd_iterations + 1):
            if it in snapshots:
                shots[str(it)] = x[:, 0].tolist()
            if it == config.svgd_iterations:
                break
            phi = svgd_direction(x, _score(mixture_1d_log_density, x), repulsive=repulsive)
            hist = 0.9 * hist + 0.1 * phi.square() if it else phi.square()  # AdaGrad with decay (Liu & Wang's code)
            x = x + config.svgd_step * phi / (1e-6 + hist.sqrt())
        xs = x[:, 0]
        right = float((xs > 0).double().mean())
        out[f"c31_{name}_right_weight"] = right
        out[f"c31_{name}_snapshots"] = shots
        out[f"c31_{name}_mean"] = float(xs.mean())
        out[f"c31_{name}_std_left"] = float(xs[xs <= 0].std()) if int((xs <= 0).sum()) > 1 else 0.0
        out[f"c31_{name}_std_right"] = float(xs[xs > 0].std()) if int((xs > 0).sum()) > 1 else 0.0
    out["c31_true_right_weight"] = MIX1D[1][0]
    out["c31_true_mean"] = sum(w * m for w, m, _ in MIX1D)
    return out


# -- C3.2: amortized SVGD on a 2-D mixture ---------------------------------------
def mixture_2d() -> tuple[Tensor, Tensor, float]:
    """C3.2's target: weights ``[C]``, means ``[C, 2]`` and the common standard deviation of six Gaussians on a circle."""
    weights = torch.tensor([0.05, 0.10, 0.15, 0.20, 0.22, 0.28], dtype=torch.float64)
    angles = torch.arange(6, dtype=torch.float64) * (2 * math.pi / 6)
    means = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=-1)
    return weights, means, 0.5


def _mixture_2d_log_density(x: Tensor) -> Tensor:
    w, mu, s = mixture_2d()
    w, mu = w.to(x), mu.to(x)
    d2 = (x.unsqueeze(-2) - mu).square().sum(-1)  # [..., C]
    return torch.logsumexp(w.log() - d2 / (2 * s * s), dim=-1) - math.log(2 * math.pi * s * s)


SAMPLER_SKIP = 2.0
"""C3.2's sampler is f(ξ) = 2ξ + MLP(ξ): it starts as N(0, 4 I), broad enough to overlap every mode."""


def _amortized(config: Ch03Config, ctx: RunContext) -> dict:
    from maxentrl.ensemble import EnsembleMLP

    gen = ctx.generator(2)
    M = config.amortized_particles // 2
    K = config.amortized_particles - M
    # two samplers in one ensemble: member 0 trained by eq. 14, member 1 without the repulsive term
    net = EnsembleMLP(2, 2, (64, 64), 2, generator=gen, dtype=torch.float64, device=gen.device)
    opt = torch.optim.Adam(net.parameters(), lr=config.amortized_lr)
    state = ctx.restored() or {"step": 0}
    if state["step"]:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
    repulsive = torch.tensor([1.0, 0.0], dtype=torch.float64, device=gen.device).view(2, 1, 1)
    bar = ctx.bar(total=config.amortized_steps, desc="C3.2 amortized SVGD", initial=state["step"])
    for step in range(state["step"], config.amortized_steps):
        xi = torch.randn((2, M + K, 2), generator=gen, dtype=torch.float64, device=gen.device)
        x = SAMPLER_SKIP * xi + net(xi)
        fixed, moved = x[:, :M].detach(), x[:, M:]
        score = _score(_mixture_2d_log_density, fixed)
        h = median_bandwidth(fixed, moved.detach())
        with_rep = svgd_direction(fixed, score, y=moved.detach(), bandwidth=h)
        without = svgd_direction(fixed, score, y=moved.detach(), bandwidth=h, repulsive=False)
        direction = repulsive * with_rep + (1 - repulsive) * without
        loss = amortized_svgd_loss(moved, direction).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        if ctx.checkpoint_due():
            ctx.checkpoint({"step": step + 1, "net": net.state_dict(), "opt": opt.state_dict()})
    bar.close()
    with torch.no_grad():
        xi = torch.randn((2, config.amortized_eval, 2), generator=gen, dtype=torch.float64, device=gen.device)
        samples = SAMPLER_SKIP * xi + net(xi)
    w, mu, s = mixture_2d()
    out = {"c32_weights": w.tolist(), "c32_means": mu.tolist(), "c32_std": s}
    for m, name in enumerate(("svgd", "no_repulsion")):
        d = (samples[m].unsqueeze(-2) - mu.to(samples)).norm(dim=-1)  # [n, C]
        nearest = d.argmin(-1)
        near = d.min(-1).values < 3 * s
        frac = torch.stack([((nearest == c) & near).double().mean() for c in range(len(w))]).cpu()
        out[f"c32_{name}_fractions"] = frac.tolist()
        out[f"c32_{name}_max_weight_error"] = float((frac - w).abs().max())
        out[f"c32_{name}_samples"] = samples[m, :2000].tolist()
        out[f"c32_{name}_spread"] = float(samples[m].std(0).mean())
    return out


# -- C3.3: multi-goal ------------------------------------------------------------
def _variants(config: Ch03Config) -> list[str]:
    return ["code", "paper"] if config.mg_variants == "both" else [config.mg_variants]


def _mg_agent_config(config: Ch03Config, method: str) -> AgentConfig:
    return AgentConfig(
        method=method, tau=config.mg_tau, hidden=(config.mg_hidden, config.mg_hidden), q_lr=config.mg_q_lr,
        policy_lr=config.mg_policy_lr, batch_size=64, value_samples=config.mg_value_samples,
        svgd_fixed=config.mg_particles, svgd_updated=config.mg_particles, policy_states=config.mg_policy_states,
        target_update_every=config.mg_target_update, min_replay=100, replay_capacity=config.mg_steps,
        bandwidth_rule=config.sql_bandwidth,
    )


def _train(ctx: RunContext, trainer: Trainer, total: int, chunk: int, desc: str) -> None:
    """Run ``trainer`` to ``total`` steps per member, checkpointing between chunks (resumes from ``ctx.restored()``)."""
    state = ctx.restored()
    if state is not None:
        trainer.load_state_dict(state)
    bar = ctx.bar(total=total, desc=desc, initial=trainer.steps)
    while trainer.steps < total:
        n = min(chunk, total - trainer.steps)
        trainer.run(n)
        bar.update(n)
        if ctx.checkpoint_due():
            ctx.checkpoint(trainer.state_dict())
    bar.close()


def _rollouts(agent: ActorCritic, task, n: int, *, generator: torch.Generator, keep: int) -> tuple[Tensor, Tensor]:
    """``n`` rollouts per member of the exploration-free policy; returns (goal index per rollout ``[E, n]``, −1 if none,
    and the first ``keep`` trajectories ``[E, keep, T + 1, 2]``)."""
    pos = task.reset((agent.E, n), generator=generator, device=generator.device)
    horizon = int(task.horizon.max()) if torch.is_tensor(task.horizon) else task.horizon
    goal = torch.full((agent.E, n), -1, dtype=torch.long, device=pos.device)
    alive = torch.ones((agent.E, n), dtype=torch.bool, device=pos.device)
    traj = [pos[:, :keep].clone()]
    limit = (task.horizon.view(-1, 1) if torch.is_tensor(task.horizon) else torch.full((agent.E, 1), horizon)).to(pos.device)
    for t in range(horizon):
        a = agent.actions(pos, 1, generator=generator)[:, :, 0]
        nxt, _, term = task.step(pos, a)
        alive = alive & (t < limit)
        pos = torch.where(alive.unsqueeze(-1), nxt, pos)
        d, g = nearest_goal(pos)
        goal = torch.where(alive & (goal < 0) & (d < 1.0), g, goal)
        alive = alive & ~(term & alive)
        traj.append(pos[:, :keep].clone())
    return goal.cpu(), torch.stack(traj, dim=2).cpu()


def _q_landscape(agent: ActorCritic, member: int, *, generator: torch.Generator, grid: int = 41,
                 samples: int = 100) -> dict:
    """Q over a grid of actions and policy samples at the three states of Figure 1, for one member."""
    dev = agent.critic.weights[0].device
    a1 = torch.linspace(-1, 1, grid, device=dev)
    A = torch.stack(torch.meshgrid(a1, a1, indexing="xy"), dim=-1).reshape(-1, 2)  # [G², 2]
    obs = torch.tensor(Q_STATES, dtype=torch.float32, device=dev).unsqueeze(0).expand(agent.E, -1, -1).contiguous()
    with torch.no_grad():
        Q = agent.q(obs, A.view(1, 1, -1, 2).expand(agent.E, len(Q_STATES), -1, -1).contiguous())
    acts = agent.actions(obs, samples, generator=generator)
    return {"Q": Q[member].reshape(len(Q_STATES), grid, grid).tolist(), "actions": acts[member].tolist(),
            "grid": a1.tolist()}  # .tolist() copies to the host


def _multigoal(config: Ch03Config, ctx: RunContext, method: str, stream: int) -> dict:
    gen = ctx.generator(stream)
    variants = _variants(config)
    S = config.mg_seeds
    task = StackedTask([spec_from(v) for v in variants], [S] * len(variants))
    agent = ActorCritic(_mg_agent_config(config, method), n_members=S * len(variants), obs_dim=2, act_dim=2,
                        generator=gen, device=gen.device)
    env = TensorVecEnv(task, agent.E, generator=gen, device=gen.device)
    trainer = Trainer(agent, env, generator=gen)
    _train(ctx, trainer, config.mg_steps, config.chunk, f"C3.3 {method}")
    goal, traj = _rollouts(agent, task, config.mg_eval_rollouts, generator=gen, keep=30)
    counts = torch.stack([(goal == g).sum(1) for g in range(len(GOALS))], dim=1)  # [E, 4]
    rows = []
    for m in range(agent.E):
        reached = int(counts[m].sum())
        frac = (counts[m].double() / config.mg_eval_rollouts).tolist()
        top = int(counts[m].max())
        rows.append({"method": method, "variant": variants[m // S], "seed": m % S, "reached": reached,
                     "none": config.mg_eval_rollouts - reached, **{f"goal{g}": int(counts[m, g]) for g in range(4)},
                     "min_fraction": min(frac), "goals_reached": int((counts[m] > 0).sum()),
                     "top_share": top / reached if reached else float("nan")})
    out = {f"c33_{method}_table": rows,
           f"c33_{method}_trajectories": {v: traj[i * S].tolist() for i, v in enumerate(variants)},
           f"c33_{method}_q": {v: _q_landscape(agent, i * S, generator=gen) for i, v in enumerate(variants)}}
    returns = [[e["step"], e["member"], e["return"]] for e in trainer.episodes]
    out[f"c33_{method}_returns"] = returns
    return out


# -- C3.4: swimmer with a finish line -----------------------------------------------
def _c34_agent_config(config: Ch03Config, method: str, swimmer: bool) -> AgentConfig:
    h = config.c34_hidden
    return AgentConfig(
        method=method, tau=config.c34_tau, hidden=(h, h), q_lr=config.c34_lr, policy_lr=config.c34_lr,
        batch_size=64, value_samples=config.c34_value_samples, svgd_fixed=config.c34_particles,
        svgd_updated=config.c34_particles, policy_states=32, target_update_every=config.c34_target_update,
        min_replay=config.c34_min_replay, replay_capacity=config.c34_steps, q_scale=1.0 if swimmer else 0.0,
        bandwidth_rule=config.sql_bandwidth,
    )


def _c34_env(config: Ch03Config, n: int, gen: torch.Generator):
    if config.c34_task == "corridor":
        spec = CorridorSpec(finish=config.c34_finish, bonus=config.c34_bonus, horizon=config.c34_horizon)
        return TensorVecEnv(spec, n, generator=gen, device=gen.device)
    from maxentrl.envs.swimmer import make_finish_line_swimmer, mujoco_state, set_mujoco_state

    def make():
        return make_finish_line_swimmer(finish=config.c34_finish, bonus=config.c34_bonus, horizon=config.c34_horizon)

    return GymVecEnv(make, n, generator=gen, horizon=config.c34_horizon, get_state=mujoco_state,
                     set_state=set_mujoco_state, device=gen.device)


def _swimmer(config: Ch03Config, ctx: RunContext, method: str, stream: int) -> dict:
    gen = ctx.generator(stream)
    env = _c34_env(config, config.c34_seeds, gen)
    agent = ActorCritic(_c34_agent_config(config, method, config.c34_task == "swimmer"), n_members=config.c34_seeds,
                        obs_dim=env.obs_dim, act_dim=env.act_dim, generator=gen, device=gen.device)
    trainer = Trainer(agent, env, generator=gen)
    _train(ctx, trainer, config.c34_steps, config.chunk, f"C3.4 {method}")
    # final policy, without exploration noise: where do its episodes end?
    final_x = torch.zeros((config.c34_seeds, config.c34_eval_rollouts), device=gen.device)
    eval_env = _c34_env(config, config.c34_seeds, gen)
    for k in range(config.c34_eval_rollouts):
        obs = eval_env.reset()
        x = torch.zeros(config.c34_seeds, device=gen.device)
        for _ in range(config.c34_horizon):
            a = agent.actions(obs.unsqueeze(1), 1, generator=gen)[:, 0, 0]
            _, _, _, _, info = eval_env.step(a)
            x = info["x"]
            obs = eval_env.obs
        final_x[:, k] = x
    out = _swimmer_training(trainer.episodes, method, config.c34_seeds, config.c34_finish)
    for r in out[f"c34_{method}_table"]:
        m = r["seed"]
        r.update(final_mean_x=float(final_x[m].mean()), final_forward_share=float((final_x[m] > 0).double().mean()))
    return out


def _swimmer_training(episodes: list[dict], method: str, seeds: int, finish: float) -> dict:
    """What the training episodes of C3.4 show, per seed: the farthest forward position, whether and when the line
    at ``finish`` was crossed; and every episode as ``[step, seed, max_x, min_x]``."""
    rows = []
    for m in range(seeds):
        mine = [e for e in episodes if e["member"] == m]
        best = max((e["max_x"] for e in mine), default=float("-inf"))
        crossing = next((e["step"] for e in mine if e["max_x"] >= finish), -1)
        rows.append({"method": method, "seed": m, "max_forward": best, "crossed": bool(best >= finish),
                     "first_crossing_step": crossing})
    curve = [[e["step"], e["member"], e["max_x"], e["min_x"]] for e in episodes]
    return {f"c34_{method}_table": rows, f"c34_{method}_episodes": curve,
            f"c34_{method}_crossed_fraction": sum(r["crossed"] for r in rows) / len(rows)}


def _summaries(results: dict, config: Ch03Config) -> dict:
    sql, ddpg = results["c33_sql_table"], results["c33_ddpg_table"]
    return {
        "c33_sql_min_fraction": min(r["min_fraction"] for r in sql),
        "c33_sql_min_goals": min(r["goals_reached"] for r in sql),
        "c33_ddpg_max_goals": max(r["goals_reached"] for r in ddpg),
        "c33_ddpg_min_top_share": min((r["top_share"] for r in ddpg if r["reached"]), default=float("nan")),
        "c33_ddpg_seeds_without_goal": sum(1 for r in ddpg if r["reached"] == 0),
    }


def run(config: Ch03Config, ctx: RunContext) -> dict:
    """All four claims; every random number comes from ``ctx.generator(stream)``."""
    results: dict = {}
    results.update(ctx.stage("C3.1", lambda: _svgd_1d(config, ctx)))
    results.update(ctx.stage("C3.2", lambda: _amortized(config, ctx)))
    results.update(ctx.stage("C3.3 sql", lambda: _multigoal(config, ctx, "sql", 3)))
    results.update(ctx.stage("C3.3 ddpg", lambda: _multigoal(config, ctx, "ddpg", 4)))
    if "c33_sql_table" in results and "c33_ddpg_table" in results:  # absent in a process that leaves them to others
        results.update(_summaries(results, config))
    results.update(ctx.stage("C3.4 sql", lambda: _swimmer(config, ctx, "sql", 5)))
    results.update(ctx.stage("C3.4 ddpg", lambda: _swimmer(config, ctx, "ddpg", 6)))
    return results


STAGE_NAMES = ("C3.1", "C3.2", "C3.3 sql", "C3.3 ddpg", "C3.4 sql", "C3.4 ddpg")
"""The experiment's stages, in order."""


def partial_result(*checkpoints: str | Path, earlier: dict | str | Path | None = None) -> dict:
    """What the checkpoints of an unfinished run hold: finished stages' results, each stage in progress, provenance.

    One checkpoint per process, when the run's stages were split over
    processes (``--stages``); all must belong to the same run (experiment,
    preset, seed, device type and config). For a ``full`` run that could not
    finish on the machine at hand, this is what can be committed (a checkpoint
    holds replay memories and is too large): :func:`save_partial` writes it
    next to where the result would go. A swimmer stage in progress (C3.4)
    also reports what its training episodes show so far, in the form of the
    finished stage's results without the final policy's evaluation.

    ``earlier`` (a partial result or its file) adds what an earlier run of the
    same experiment, preset, seed and config had done: its finished stages,
    and its stages in progress that the checkpoints do not run. Where the
    checkpoints carried on from one that the earlier result was written from
    (they share its segments, each segment once in the provenance), a stage
    in progress there is simply further along now. A stage that the
    checkpoints ran again from its start, the earlier checkpoint being gone,
    replaces the earlier run's progress on it, which is kept under
    ``superseded`` (stage, steps, run time, commits).
    """
    part = _partial_from_checkpoints(checkpoints)
    return part if earlier is None else _join_earlier(part, earlier)


def _join_earlier(part: dict, earlier: dict | str | Path) -> dict:
    """:func:`partial_result`'s ``earlier``: the earlier run's finished stages and progress joined to ``part``."""
    import json

    if not isinstance(earlier, dict):
        try:
            earlier = json.loads(Path(earlier).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read the earlier partial result {earlier} ({type(err).__name__})") from None
    for key in ("experiment", "preset", "seed", "config"):
        if earlier.get(key) != part[key]:
            raise ConfigError(f"the earlier partial result belongs to another run (its {key} differs)")
    ours = set(part["finished_stages"]) | {ip["stage"] for ip in part["in_progress"]}
    redone = [n for n in earlier["finished_stages"] if n in ours]
    if redone:
        raise ConfigError(f"the earlier run had finished {', '.join(redone)}, which the checkpoints run again")
    finished = set(part["finished_stages"]) | set(earlier["finished_stages"])
    old, prov = earlier["provenance"], part["provenance"]

    def key(seg: dict) -> tuple:
        return seg["started_utc"], seg["commit"], seg["wall_time_s"]

    mine = {key(seg) for seg in prov["segments"]}
    shared = any(key(seg) in mine for seg in old["segments"])
    now = {**prov["stage_timings_s"], **{f"stage {ip['stage']}": ip["elapsed_s"] for ip in part["in_progress"]}}
    superseded = list(earlier.get("superseded", [])) + [
        _progress_summary(ip, old["commits"]) for ip in earlier["in_progress"]
        if ip["stage"] in ours and not (shared and now.get(f"stage {ip['stage']}", 0.0) >= ip["elapsed_s"])]
    segments = [seg for seg in old["segments"] if key(seg) not in mine] + prov["segments"]
    return {
        **part,
        "finished_stages": [n for n in STAGE_NAMES if n in finished],
        "results": {**earlier["results"], **part["results"]},
        "in_progress": part["in_progress"] + [ip for ip in earlier["in_progress"] if ip["stage"] not in ours],
        "superseded": superseded,
        "provenance": {**prov, "device_name": "; ".join(sorted({seg["device_name"] for seg in segments})),
                       "commits": sorted({seg["commit"] for seg in segments}), "segments": segments,
                       "wall_time_s": round(sum(seg["wall_time_s"] for seg in segments), 1),
                       "stage_timings_s": {**old["stage_timings_s"], **prov["stage_timings_s"]}},
    }


def _progress_summary(ip: dict, commits: list[str]) -> dict:
    """A stage's progress without its episodes: steps, run time, commits and, for a swimmer stage, how many
    seeds had crossed the line and the farthest forward point of any training episode."""
    out = {"stage": ip["stage"], "steps": ip["steps"], "elapsed_s": ip["elapsed_s"], "commits": list(commits)}
    if "results" in ip:
        rows = ip["results"][f"c34_{ip['stage'].split()[1]}_table"]
        out.update(seeds=len(rows), crossed=sum(bool(r["crossed"]) for r in rows),
                   max_forward=max(r["max_forward"] for r in rows))
    return out


def _partial_from_checkpoints(checkpoints: tuple[str | Path, ...]) -> dict:
    from maxentrl.device import device_name
    from maxentrl.provenance import to_jsonable

    if not checkpoints:
        raise ConfigError("partial_result needs at least one checkpoint")
    runs = []
    for path in checkpoints:
        try:
            runs.append(torch.load(Path(path), map_location="cpu", weights_only=False))
        except Exception as err:  # a missing, truncated or foreign file: one line
            raise ConfigError(f"cannot read the checkpoint {path} ({type(err).__name__})") from None
    first = runs[0]
    for path, saved in zip(checkpoints[1:], runs[1:]):
        for key in ("experiment", "preset", "seed", "device_type", "config"):
            if saved.get(key) != first.get(key):
                raise ConfigError(f"{path} belongs to another run than {checkpoints[0]} (its {key} differs)")
    done = {n: v for saved in runs for n, v in saved["done"].items()}
    config = first["config"]
    progress = []
    for saved in runs:
        current = saved.get("current")
        if current is None:
            continue
        st = current["state"]
        item = {"stage": current["stage"], "steps": int(st.get("steps", st.get("step", 0))),
                "elapsed_s": round(float(current.get("elapsed_s", 0.0)), 1)}
        if current["stage"].startswith("C3.4 ") and "episodes" in st:
            method = current["stage"].split()[1]
            item["results"] = to_jsonable(_swimmer_training(st["episodes"], method, config["c34_seeds"],
                                                            config["c34_finish"]))
        progress.append(item)
    # each process's segment names its device (older checkpoints did not: then the device is named as seen now)
    here = device_name(torch.device(first["device_type"]))
    segments = [{**seg, "device_name": seg.get("device_name", here)} for saved in runs for seg in saved.get("segments", [])]
    names = sorted({seg["device_name"] for seg in segments}) or [here]
    timings = {k: v for saved in runs for k, v in saved.get("timings", {}).items()}
    return {
        "experiment": first["experiment"], "preset": first["preset"], "seed": first["seed"], "config": config,
        "finished_stages": [n for n in STAGE_NAMES if n in done],
        "results": to_jsonable({k: v for n in STAGE_NAMES if n in done for k, v in done[n].items()}),
        "in_progress": progress,
        "provenance": {"device_type": first["device_type"], "device_name": "; ".join(names),
                       "commits": sorted({seg["commit"] for seg in segments}), "segments": segments,
                       "wall_time_s": round(sum(seg["wall_time_s"] for seg in segments), 1),
                       "stage_timings_s": timings},
    }


def save_partial(checkpoints: str | Path | list[str | Path], out: str | Path,
                 earlier: dict | str | Path | None = None) -> Path:
    """Write :func:`partial_result` of ``checkpoints`` (one path or a list, and ``earlier``) as
    ``<stem>.partial.json`` into ``out``."""
    from maxentrl.experiments.harness import result_stem
    from maxentrl.provenance import atomic_write_json

    paths = [checkpoints] if isinstance(checkpoints, (str, Path)) else list(checkpoints)
    part = partial_result(*paths, earlier=earlier)
    path = Path(out) / f"{result_stem(part['experiment'], part['preset'], part['seed'])}.partial.json"
    atomic_write_json(path, part)
    return path


PRESET_BUDGET_FOLDER = "c34_preset_budget"
"""Where, under ``data/results/ch03_soft_q_learning/``, a run of the swimmer stages alone at the ``full`` preset's
own budget keeps its partial result (the complete full run beside it ran them for fewer steps)."""


def _describe_partial(part: dict) -> dict:
    """``finished``, ``to_run``, ``results``, ``config`` and a few lines of ``text`` for a partial result."""
    full_cfg = dataclasses.asdict(EXPERIMENT.presets["full"])
    differs = sorted(k for k in full_cfg if part["config"].get(k) != (list(full_cfg[k]) if isinstance(full_cfg[k], tuple) else full_cfg[k]))
    done = part["finished_stages"]
    todo = [n for n in STAGE_NAMES if n not in done]
    prov = part["provenance"]
    lines = [f"Full preset, run on {prov['device_name']} for {prov['wall_time_s']:.0f} s (commit "
             f"{', '.join(c[:12] for c in prov['commits'])})" + (f", with these fields changed: {', '.join(differs)}" if differs else "") + ".",
             f"Finished stages: {', '.join(done) if done else 'none'}."]
    for ip in part["in_progress"]:
        lines.append(f"Stage {ip['stage']} was interrupted after {ip['steps']:,} steps per seed.")
    lines.append(f"Still to run: {', '.join(todo) if todo else 'nothing'}.")
    return {"finished": done, "to_run": todo, "results": part["results"], "config": part["config"],
            "in_progress": part["in_progress"], "provenance": prov, "text": "\n".join(lines)}


def _read_partial(folder: Path, seed: int) -> dict | None:
    import json

    from maxentrl.experiments.harness import result_stem

    path = folder / f"{result_stem(NAME, 'full', seed)}.partial.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def full_run_status(seed: int = 0) -> dict:
    """What of the ``full`` preset has been run, from the files under ``data/results/ch03_soft_q_learning/``.

    Returns ``{"finished": [...], "to_run": [...], "text": ...}``: a complete
    result file if one is committed, else a partial one (:func:`save_partial`),
    else nothing.
    """
    from maxentrl.experiments.harness import committed_result
    from maxentrl.paths import data_dir

    full = committed_result(NAME, preset="full", seed=seed)
    full_cfg = dataclasses.asdict(EXPERIMENT.presets["full"])
    if full is not None:
        p = full.provenance
        changed = [f"{k} = {full.config[k]:,} (preset: {full_cfg[k]:,})" if isinstance(full_cfg[k], int) else
                   f"{k} = {full.config[k]} (preset: {full_cfg[k]})" for k in full_cfg if full.config.get(k) != full_cfg[k]]
        parts = len([seg for seg in p["segments"] if seg["wall_time_s"] >= 1.0])
        text = (f"The full preset has run completely on {p['device_name']}, commit {p['git_commit'][:12]}"
                + (f", with {'; '.join(changed)}" if changed else "") + ". "
                + (f"Its stages ran as {parts} processes side by side, {p['wall_time_s']:.0f} s of run time "
                   f"in all (the longest stage: {max(p['timings'].values()):.0f} s)." if parts > 1 else
                   f"It ran for {p['wall_time_s']:.0f} s."))
        return {"finished": list(STAGE_NAMES), "to_run": [], "results": full.results, "config": full.config,
                "changed": changed, "text": text}
    try:
        part = _read_partial(data_dir() / "results" / NAME, seed)
    except FileNotFoundError:
        part = None
    if part is None:
        return {"finished": [], "to_run": list(STAGE_NAMES), "results": {}, "config": None,
                "text": "No part of the full preset has been run and committed yet; all its stages are still to run: "
                        + ", ".join(STAGE_NAMES) + "."}
    return _describe_partial(part)


def preset_budget_status(seed: int = 0) -> dict | None:
    """The run of the swimmer stages alone at the ``full`` preset's budget (:data:`PRESET_BUDGET_FOLDER`), or ``None``.

    Besides :func:`full_run_status`'s keys: ``methods``, per method ``steps``
    (per seed, so far), ``finished`` (bool), ``elapsed_s`` (the stage's run
    time so far) and ``results`` (the stage's results, or what its training
    shows so far); and ``superseded``, the progress of earlier runs of a stage
    that was started again (:func:`partial_result`'s ``earlier``).
    """
    from maxentrl.paths import data_dir

    try:
        part = _read_partial(data_dir() / "results" / NAME / PRESET_BUDGET_FOLDER, seed)
    except FileNotFoundError:
        return None
    if part is None:
        return None
    status = _describe_partial(part)
    total = part["config"]["c34_steps"]
    methods = {}
    for method in ("sql", "ddpg"):
        stage = f"C3.4 {method}"
        if stage in part["finished_stages"]:
            keys = ("table", "episodes", "crossed_fraction")
            methods[method] = {"steps": total, "finished": True,
                               "elapsed_s": part["provenance"]["stage_timings_s"].get(f"stage {stage}", float("nan")),
                               "results": {f"c34_{method}_{k}": part["results"][f"c34_{method}_{k}"] for k in keys}}
        else:
            ip = next((p for p in part["in_progress"] if p["stage"] == stage), None)
            if ip is not None and "results" in ip:
                methods[method] = {"steps": ip["steps"], "finished": False, "elapsed_s": ip["elapsed_s"],
                                   "results": ip["results"]}
    status["methods"] = methods
    status["superseded"] = part.get("superseded", [])
    return status


QUICK = Ch03Config()

FULL = dataclasses.replace(
    QUICK,
    cpu_threads=0,
    svgd_particles=1000,
    svgd_iterations=3000,
    amortized_steps=5000,
    amortized_eval=200_000,
    mg_seeds=16,
    mg_particles=16,
    mg_steps=100_000,
    mg_hidden=128,
    mg_q_lr=3e-4,
    mg_policy_lr=3e-4,
    mg_target_update=1000,
    c34_task="swimmer",
    c34_seeds=8,
    c34_steps=200_000,
    c34_hidden=128,
    c34_tau=0.1,
    c34_particles=16,
    c34_value_samples=50,
    c34_lr=3e-4,
    c34_target_update=5000,
    c34_finish=3.0,
    c34_bonus=1.0,
    c34_horizon=500,
    c34_min_replay=10_000,
    c34_eval_rollouts=4,
    chunk=1000,
)

NAME = "ch03_soft_q_learning"

EXPERIMENT = register(
    Experiment(
        name=NAME,
        chapter=3,
        summary="SVGD, amortized SVGD, soft Q-learning vs DDPG on the multi-goal task and a swimmer with a finish line",
        config_type=Ch03Config,
        presets={"quick": QUICK, "full": FULL},
        run=run,
        smoke={"svgd_iterations": "100", "amortized_steps": "60", "amortized_eval": "500", "mg_seeds": "1",
               "mg_steps": "200", "mg_hidden": "16", "mg_particles": "4", "mg_eval_rollouts": "8",
               "c34_seeds": "2", "c34_steps": "200", "c34_hidden": "16", "c34_particles": "4", "c34_eval_rollouts": "2",
               "chunk": "40"},
        stage_names=STAGE_NAMES,
    )
)
