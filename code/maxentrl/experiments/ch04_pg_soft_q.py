"""Chapter 4's experiments: policy gradients and soft Q-learning, from exact identities to Atari (C4.1-C4.5).

C4.1  bandit: the gradient of soft Q-learning's squared error equals the policy
      gradient plus the value-error gradient (Schulman et al. 2017, eq. 23),
      exactly in float64, for linear and MLP parametrizations;
C4.2  MDP: the same for n-step soft Q-learning (eq. 65) on small MDPs whose
      n-step continuations are enumerated; sampled estimates of both sides
      converge to it, and the two estimators' variances are compared;
C4.3  entropy-regularized A2C and soft Q-learning with Q = V + τ log π and the
      §6.3 gradient scaling learn alike (Fig. 3);
C4.4  A2C with the naive (eq. 79) and the proper (eq. 80) entropy bonus (Fig. 1);
C4.5  DQN with the targets of eqs. 81-83, τ ∈ {0.01, 0.1}, and 5-step returns (Fig. 2).

The learning claims run as a grid: games × variants × seeds, every game's
variants and seeds trained together as one ensemble (one network with a member
axis, one batch of environments), each game and algorithm a resumable stage.
Two experiments share this module: ``ch04_pg_soft_q`` (the identities, then the
grid on classic control in ``quick`` and on MinAtar in ``full``) and
``ch04_atari`` (the A2C grid on the paper's Atari games, for a GPU machine).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from maxentrl.a2c import A2C_VARIANTS, A2CSettings, segment_seeds, train_a2c
from maxentrl.dqn import DQN_TARGETS, DQNSettings, DQNVariant, train_dqn
from maxentrl.envs import ENV_IDS, env_family, env_spec, make_env
from maxentrl.errors import ConfigError
from maxentrl.experiments.config import ExperimentConfig, bounded, choice
from maxentrl.experiments.harness import Experiment, RunContext, register
from maxentrl.mdp import random_mdp
from maxentrl.pg_soft_q import (
    bandit_gradient_terms,
    enumerate_paths,
    linear_q,
    mlp_parameter_count,
    mlp_q,
    n_step_soft_td,
    per_path_gradients,
    policy_gradient_surrogate,
    soft_q_regression_loss,
    soft_q_target,
    soft_value_and_log_policy,
)

__all__ = ["Ch04Config", "run", "EXPERIMENT", "ATARI_EXPERIMENT", "dqn_variants", "final_score", "summarize_grid"]

DTYPE = torch.float64
DQN_KINDS = ("standard", "standard_5step", "soft_kl", "soft_ent")


@dataclass(frozen=True)
class Ch04Config(ExperimentConfig):
    """Configuration of chapter 4's experiments (identities in float64, learners in float32)."""

    cpu_threads: int = bounded(1, 0, 256)
    """Torch threads on the CPU (0: torch's default); one is fastest for the small networks of ``quick``."""

    identities: bool = bounded(True)
    """Run C4.1 and C4.2 (the exact identities)."""

    bandit_instances: int = bounded(200, 1, 10**6)
    """C4.1: random bandits (features, rewards, reference policy, τ, parameters) per parametrization."""

    bandit_actions: int = bounded(5, 2, 1000)
    """C4.1: |A|."""

    reward_values: int = bounded(3, 1, 100)
    """C4.1: each action's reward takes this many values, with random probabilities."""

    features: int = bounded(4, 1, 256)
    """C4.1-C4.2: length k of the random feature vectors φ(a) or φ(s, a)."""

    mlp_hidden: int = bounded(8, 1, 1024)
    """C4.1-C4.2: hidden units of the MLP parametrization."""

    tau_range: tuple[float, float] = bounded((0.01, 10.0), 1e-4, 1e4, ordered=True)
    """C4.1-C4.2: temperatures τ are drawn log-uniformly from this range for the exact checks."""

    mdp_instances: int = bounded(20, 1, 10**5)
    """C4.2: random MDPs (and parameters) per parametrization for the exact check."""

    mdp_states: int = bounded(4, 2, 16)
    """C4.2: S."""

    mdp_actions: int = bounded(3, 2, 8)
    """C4.2: |A|."""

    mdp_n: int = bounded(3, 1, 6)
    """C4.2: n, the number of steps of the backup."""

    mdp_gamma: float = bounded(0.9, 0.0, 1.0, open_high=True)
    """C4.2: discount γ."""

    sampling_taus: tuple[float, ...] = bounded((0.1, 1.0), 1e-3, 1e3, max_len=10)
    """C4.2: temperatures at which the sampled estimators are compared."""

    sample_sizes: tuple[int, ...] = bounded((10, 100, 1000, 10000), 1, 10**7, max_len=12, ordered=True)
    """C4.2: numbers N of sampled paths per estimate."""

    sample_repeats: int = bounded(200, 2, 10**6)
    """C4.2: independent estimates per N (for the root-mean-square error)."""

    games: tuple[str, ...] = choice(("CartPole-v1",), *ENV_IDS, max_len=len(ENV_IDS))
    """C4.3-C4.5: the games of the grid."""

    seeds: int = bounded(3, 1, 64)
    """C4.3-C4.5: seeds per variant (each seed: its own initial network and environments)."""

    a2c_variants: tuple[str, ...] = choice(("naive", "proper", "soft_q"), *A2C_VARIANTS, max_len=len(A2C_VARIANTS))
    """C4.3-C4.4: update rules trained with A2C's machinery (empty: no A2C runs is not allowed; see ``a2c``)."""

    a2c: bool = bounded(True)
    """Run the A2C grid (C4.3-C4.4)."""

    a2c_steps: int = bounded(40_000, 100, 10**10)
    """Agent steps per A2C member (frames: × 4 on Atari)."""

    a2c_envs: int = bounded(8, 1, 256)
    """Environment copies per A2C member."""

    a2c_n_steps: int = bounded(5, 1, 128)
    """n, the rollout length of A2C (and of soft Q-learning's n-step target)."""

    a2c_lr: float = bounded(3e-3, 1e-6, 1.0)
    """RMSprop learning rate (decayed linearly to zero), the same for every variant."""

    a2c_tau: float = bounded(0.01, 1e-4, 10.0)
    """τ, the entropy coefficient of every A2C variant (the paper: 0.01)."""

    value_coef: float = bounded(0.5, 1e-3, 1e3)
    """c, the value-loss coefficient of A2C and the value-stream scale of soft Q-learning (§6.3)."""

    a2c_segment_updates: int = bounded(1000, 1, 10**8)
    """Updates between resets of every environment copy (the only moments an A2C stage checkpoints)."""

    dqn: bool = bounded(True)
    """Run the DQN grid (C4.5)."""

    dqn_targets: tuple[str, ...] = choice(DQN_KINDS, *DQN_KINDS, max_len=len(DQN_KINDS))
    """C4.5: targets of eqs. 81-83 (``standard_5step``: eq. 81 with 5-step returns)."""

    dqn_taus: tuple[float, ...] = bounded((0.01, 0.1), 1e-4, 10.0, max_len=6)
    """C4.5: temperatures of the soft targets."""

    dqn_steps: int = bounded(20_000, 100, 10**10)
    """Agent steps per DQN member."""

    dqn_envs: int = bounded(4, 1, 64)
    """Environment copies per DQN member."""

    dqn_lr: float = bounded(5e-4, 1e-6, 1.0)
    """Adam learning rate of DQN."""

    dqn_memory: int = bounded(20_000, 100, 10**7)
    """Transitions in each DQN member's replay memory."""

    dqn_learning_starts: int = bounded(1_000, 0, 10**8)
    """Agent steps per member before the first DQN update."""

    dqn_train_every: int = bounded(2, 1, 1000)
    """Vector steps between two DQN updates."""

    dqn_target_every: int = bounded(250, 1, 10**7)
    """DQN updates between two copies into the target network."""

    dqn_eps_decay: int = bounded(8_000, 1, 10**9)
    """Agent steps over which ε decays linearly from 1 to 0.05."""

    dqn_segment_steps: int = bounded(2_500, 1, 10**8)
    """Vector steps between resets of every environment copy (the only moments a DQN stage checkpoints)."""

    curve_points: int = bounded(20, 2, 10_000)
    """Points of each learning curve."""

    random_episodes: int = bounded(50, 1, 100_000)
    """Episodes of a uniformly random policy per game (the floor that learning must clear)."""

    def check(self) -> None:
        if not self.a2c and not self.dqn and not self.identities:
            raise ConfigError("the config runs nothing: set identities, a2c or dqn")
        if self.dqn and any(env_family(g) == "atari" for g in self.games):
            raise ConfigError("dqn runs on classic-control and MinAtar games only; set dqn=false for Atari games")
        if len(set(self.games)) != len(self.games):
            raise ConfigError(f"games lists a game twice: {self.games!r}")
        for name in ("a2c_variants", "dqn_targets"):
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ConfigError(f"{name} lists a value twice: {getattr(self, name)!r}")
        members = self.seeds * max(len(self.a2c_variants), 2 + 2 * len(self.dqn_taus))
        if members * max(self.a2c_envs, self.dqn_envs) > 4096:
            raise ConfigError("seeds × variants × environment copies must stay at most 4096")
        if self.dqn and members * self.dqn_memory > 2 * 10**8:
            raise ConfigError("seeds × DQN variants × dqn_memory must stay at most 2e8 transitions")
        if self.mdp_states * (self.mdp_states * self.mdp_actions) ** self.mdp_n > 2_000_000:
            raise ConfigError("mdp_states × (mdp_states × mdp_actions)^mdp_n paths exceed 2e6")
        if self.sample_repeats * max(self.sample_sizes) > 10**9:
            raise ConfigError("sample_repeats × the largest sample size must stay at most 1e9")


# -- C4.1 -----------------------------------------------------------------------
def _log_uniform(gen: torch.Generator, low: float, high: float) -> float:
    u = float(torch.rand((), generator=gen, dtype=DTYPE))
    return 10 ** (math.log10(low) + (math.log10(high) - math.log10(low)) * u)


def _bandit(config: Ch04Config, ctx: RunContext) -> dict:
    """Eq. 23 on random bandits: ‖∇L − (−τ∇η + ∇(value error))‖∞ for linear and MLP q_θ."""
    gen = ctx.generator(1)
    A, K, k, h = config.bandit_actions, config.reward_values, config.features, config.mlp_hidden
    rows = []
    for kind in ("linear", "mlp"):
        worst_abs, worst_rel, sample = 0.0, 0.0, None
        for i in range(config.bandit_instances):
            phi = torch.randn(A, k, generator=gen, dtype=DTYPE)
            rewards = 2.0 * torch.randn(A, K, generator=gen, dtype=DTYPE)
            probs = torch.rand(A, K, generator=gen, dtype=DTYPE) + 0.05
            probs = probs / probs.sum(-1, keepdim=True)
            log_prior = torch.log_softmax(torch.randn(A, generator=gen, dtype=DTYPE), -1)
            tau = _log_uniform(gen, *config.tau_range)
            if kind == "linear":
                theta = torch.randn(k, generator=gen, dtype=DTYPE)
                terms = bandit_gradient_terms(lambda th: linear_q(th, phi), theta, rewards, probs, log_prior, tau)
            else:
                theta = torch.randn(mlp_parameter_count(k, h), generator=gen, dtype=DTYPE)
                terms = bandit_gradient_terms(lambda th: mlp_q(th, phi, hidden=h), theta, rewards, probs, log_prior, tau)
            diff = terms["squared_error"] - terms["policy_gradient"] - terms["value_error"]
            scale = float(terms["squared_error"].abs().max().clamp(min=1e-300))
            worst_abs = max(worst_abs, float(diff.abs().max()))
            worst_rel = max(worst_rel, float(diff.abs().max()) / scale)
            if sample is None:
                sample = {key: value.tolist() for key, value in terms.items()} | {"tau": tau}
        rows.append({"parametrization": kind, "instances": config.bandit_instances, "max_abs_error": worst_abs,
                     "max_rel_error": worst_rel})
    return {"c41_table": rows, "c41_max_abs_error": max(r["max_abs_error"] for r in rows), "c41_example": sample}


# -- C4.2 -----------------------------------------------------------------------
@dataclass
class _MDPInstance:
    """One random MDP with a parametrized Q_θ, its Boltzmann policy and the enumerated n-step paths."""

    P: torch.Tensor
    r: torch.Tensor
    d: torch.Tensor
    log_prior: torch.Tensor
    q_fn: object
    theta: torch.Tensor


def _mdp_instance(config: Ch04Config, gen: torch.Generator, kind: str) -> _MDPInstance:
    S, A, k, h = config.mdp_states, config.mdp_actions, config.features, config.mlp_hidden
    mdp = random_mdp(1, S, A, generator=gen, gamma=config.mdp_gamma, dtype=DTYPE)
    phi = torch.randn(S, A, k, generator=gen, dtype=DTYPE)
    d = torch.rand(S, generator=gen, dtype=DTYPE) + 0.1
    log_prior = torch.log_softmax(torch.randn(S, A, generator=gen, dtype=DTYPE), -1)
    if kind == "linear":
        theta = torch.randn(k, generator=gen, dtype=DTYPE)
        q_fn = lambda th: linear_q(th, phi)  # noqa: E731
    else:
        theta = torch.randn(mlp_parameter_count(k, h), generator=gen, dtype=DTYPE)
        q_fn = lambda th: mlp_q(th, phi, hidden=h)  # noqa: E731
    return _MDPInstance(P=mdp.P[0], r=mdp.r[0], d=d / d.sum(), log_prior=log_prior, q_fn=q_fn, theta=theta)


def _exact_sides(inst: _MDPInstance, tau: float, n: int, gamma: float):
    """Both sides of eq. 65 by autograd, plus what the sampled estimators need."""
    theta = inst.theta.detach().clone().requires_grad_(True)
    Q = inst.q_fn(theta)
    V, log_pi, kl = soft_value_and_log_policy(Q, tau, inst.log_prior)
    paths = enumerate_paths(inst.P, log_pi.exp().detach(), inst.d, n)
    st, ac, w = paths.states, paths.actions, paths.weight
    Delta = n_step_soft_td(inst.r[st[:, :-1], ac], kl.detach()[st[:, :-1]], V.detach()[st], gamma, tau)
    s0, a0 = st[:, 0], ac[:, 0]
    y = soft_q_target(kl.detach()[s0], V.detach()[s0], Delta, tau)
    (g_q,) = torch.autograd.grad(soft_q_regression_loss(Q[s0, a0], y, w), theta, retain_graph=True)
    (g_pg,) = torch.autograd.grad(policy_gradient_surrogate(log_pi[s0, a0], kl[s0], V[s0], Delta, w, tau), theta)
    return g_q, g_pg, paths, Q.detach(), Delta


def _mdp_exact(config: Ch04Config, ctx: RunContext) -> dict:
    gen = ctx.generator(2)
    rows = []
    for kind in ("linear", "mlp"):
        worst_abs, worst_rel = 0.0, 0.0
        for _ in range(config.mdp_instances):
            inst = _mdp_instance(config, gen, kind)
            tau = _log_uniform(gen, *config.tau_range)
            g_q, g_pg, paths, _, _ = _exact_sides(inst, tau, config.mdp_n, config.mdp_gamma)
            err = float((g_q - g_pg).abs().max())
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / float(g_q.abs().max().clamp(min=1e-300)))
        rows.append({"parametrization": kind, "instances": config.mdp_instances, "paths": int(paths.weight.numel()),
                     "max_abs_error": worst_abs, "max_rel_error": worst_rel})
    return {"c42_exact_table": rows, "c42_max_abs_error": max(r["max_abs_error"] for r in rows)}


def _mdp_sampling(config: Ch04Config, ctx: RunContext) -> dict:
    """Sampled estimates of both sides of eq. 65 converge to the exact gradient; per-sample variances compared."""
    gen = ctx.generator(3)
    inst = _mdp_instance(config, gen, "mlp")
    J = torch.func.jacrev(inst.q_fn)(inst.theta)  # [S, A, p]
    rows, variance_rows = [], []
    for tau in config.sampling_taus:
        g_q, g_pg, paths, Q, Delta = _exact_sides(inst, tau, config.mdp_n, config.mdp_gamma)
        h_q, h_pg = per_path_gradients(J, paths, Q, Delta.detach(), inst.log_prior, tau)
        w = paths.weight
        exact = g_q
        mean_q, mean_pg = w @ h_q, w @ h_pg
        var_q = float((w.unsqueeze(1) * (h_q - mean_q) ** 2).sum())
        var_pg = float((w.unsqueeze(1) * (h_pg - mean_pg) ** 2).sum())
        variance_rows.append({
            "tau": tau, "trace_cov_q": var_q, "trace_cov_pg": var_pg, "ratio_q_over_pg": var_q / var_pg,
            "per_path_mean_error_q": float((mean_q - exact).abs().max()),
            "per_path_mean_error_pg": float((mean_pg - exact).abs().max()),
            "exact_norm": float(exact.norm()),
        })
        for N in config.sample_sizes:
            idx = torch.multinomial(w.expand(config.sample_repeats, -1), N, replacement=True, generator=gen)
            for name, h, var in (("soft_q", h_q, var_q), ("policy_gradient", h_pg, var_pg)):
                est = h[idx].mean(1)  # [repeats, p]
                rms = float(((est - exact) ** 2).sum(-1).mean().sqrt())
                rows.append({"tau": tau, "estimator": name, "N": N, "rms_error": rms,
                             "predicted_rms_error": math.sqrt(var / N)})
    return {"c42_sampling_table": rows, "c42_variance_table": variance_rows,
            "c42_parameters": int(inst.theta.numel()), "c42_sampling_paths": int(paths.weight.numel())}


# -- C4.3-C4.5 --------------------------------------------------------------------
def dqn_variants(config: Ch04Config) -> list[DQNVariant]:
    """Figure 2's lines from ``dqn_targets`` × ``dqn_taus``."""
    out = []
    for kind in config.dqn_targets:
        if kind == "standard":
            out.append(DQNVariant("standard"))
        elif kind == "standard_5step":
            out.append(DQNVariant("standard", n=5))
        else:
            out.extend(DQNVariant(kind, tau=t) for t in config.dqn_taus)
    return out


def _slug(game: str) -> str:
    return game.replace("/", "_")


def _stream(kind: str, game: str) -> int:
    return 100 + 10 * ENV_IDS.index(game) + {"random": 0, "a2c": 1, "dqn": 2}[kind]


def _random_policy(config: Ch04Config, ctx: RunContext, game: str) -> dict:
    """Mean game score of a uniformly random policy (``random_episodes`` episodes)."""
    spec = env_spec(game)
    n = min(config.random_episodes, 16)
    env = make_env(game, n)
    env.reset(segment_seeds(ctx.seed, _stream("random", game), 0, n))
    rng = np.random.default_rng(int(segment_seeds(ctx.seed, _stream("random", game), 1, 1)[0]))
    running, scores = np.zeros(n), []
    while len(scores) < config.random_episodes:
        _, reward, done = env.step(rng.integers(0, spec.n_actions, size=n))
        running += reward
        for j in np.nonzero(done)[0]:
            scores.append(float(running[j]))
            running[j] = 0.0
    env.close()
    scores = scores[: config.random_episodes]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "episodes": len(scores)}


def _a2c_settings(config: Ch04Config, game: str) -> A2CSettings:
    spec = env_spec(game)
    return A2CSettings(env_id=game, steps=config.a2c_steps, n_envs=config.a2c_envs, n_steps=config.a2c_n_steps,
                       tau=config.a2c_tau, lr=config.a2c_lr, value_coef=config.value_coef,
                       clip_rewards=spec.family == "atari", segment_updates=config.a2c_segment_updates,
                       log_every=max(1, config.a2c_steps // config.curve_points))


def _dqn_settings(config: Ch04Config, game: str) -> DQNSettings:
    return DQNSettings(env_id=game, steps=config.dqn_steps, n_envs=config.dqn_envs, lr=config.dqn_lr,
                       memory=config.dqn_memory, learning_starts=config.dqn_learning_starts,
                       train_every=config.dqn_train_every, target_every=config.dqn_target_every,
                       eps_decay_steps=config.dqn_eps_decay, segment_steps=config.dqn_segment_steps,
                       log_every=max(1, config.dqn_steps // config.curve_points))


def _by_variant(out: dict, labels: list[str], seeds: int) -> dict:
    """Split an ensemble's curves into ``{label: [seed][point]}`` (members are label-major)."""
    curves = {}
    for i, label in enumerate(labels):
        curves[label] = out["curves"][i * seeds : (i + 1) * seeds]
    return {"curve_steps": out["curve_steps"], "curves": curves,
            "episodes": {label: out["episodes"][i * seeds : (i + 1) * seeds] for i, label in enumerate(labels)}}


def final_score(curve: list[float | None], fraction: float = 0.25) -> float | None:
    """Mean of the last ``fraction`` of a learning curve's points (missing points skipped)."""
    tail = [x for x in curve[-max(1, int(round(len(curve) * fraction))):] if x is not None]
    return float(np.mean(tail)) if tail else None


def _band(curves: list[list[float | None]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds at each point (NaN where no seed has a score yet)."""
    arr = np.array([[np.nan if x is None else x for x in c] for c in curves], dtype=float)
    with np.errstate(all="ignore"):
        mean = np.array([np.nanmean(col) if np.isfinite(col).any() else np.nan for col in arr.T])
        std = np.array([np.nanstd(col) if np.isfinite(col).any() else np.nan for col in arr.T])
    return mean, std


def band_agreement(curves_a: list[list[float | None]], curves_b: list[list[float | None]]) -> float:
    """Fraction of curve points where one mean curve lies inside the other's seed band (mean ± one std).

    |m_a − m_b| ≤ max(s_a, s_b); points where either is missing are skipped.
    """
    ma, sa = _band(curves_a)
    mb, sb = _band(curves_b)
    ok = np.isfinite(ma) & np.isfinite(mb)
    if not ok.any():
        return float("nan")
    inside = np.abs(ma - mb) <= np.maximum(sa, sb)
    return float(inside[ok].mean())


def summarize_grid(grid: dict) -> dict:
    """Per game and variant: final scores per seed, their mean and std, and the random policy's score."""
    out = {}
    for game, parts in grid.items():
        g = {"random": parts["random"]["mean"]}
        for algo in ("a2c", "dqn"):
            if algo not in parts:
                continue
            for label, curves in parts[algo]["curves"].items():
                finals = [final_score(c) for c in curves]
                vals = [f for f in finals if f is not None]
                g[f"{algo}:{label}"] = {"finals": finals, "mean": float(np.mean(vals)) if vals else None,
                                        "std": float(np.std(vals)) if vals else None}
        out[game] = g
    return out


def _claims(config: Ch04Config, grid: dict) -> dict:
    """The verdict numbers of C4.3-C4.5 per game."""
    summary = summarize_grid(grid)
    rows = []
    for game, parts in grid.items():
        s = summary[game]
        row = {"game": game, "random": s["random"]}
        if "a2c" in parts:
            curves = parts["a2c"]["curves"]
            for label in curves:
                row[f"a2c_{label}_mean"] = s[f"a2c:{label}"]["mean"]
                row[f"a2c_{label}_std"] = s[f"a2c:{label}"]["std"]
            if "proper" in curves and "soft_q" in curves:
                row["c43_band_agreement"] = band_agreement(curves["proper"], curves["soft_q"])
            if "naive" in curves and "soft_q" in curves:
                row["c43_band_agreement_naive"] = band_agreement(curves["naive"], curves["soft_q"])
            if "naive" in curves and "proper" in curves:
                row["c44_band_agreement"] = band_agreement(curves["naive"], curves["proper"])
        if "dqn" in parts:
            for label in parts["dqn"]["curves"]:
                row[f"dqn_{label}_mean"] = s[f"dqn:{label}"]["mean"]
                row[f"dqn_{label}_std"] = s[f"dqn:{label}"]["std"]
        rows.append(row)
    return {"summary": summary, "claims_table": rows}


def _grid(config: Ch04Config, ctx: RunContext) -> dict:
    grid = {}
    for game in config.games:
        spec = env_spec(game)
        parts: dict = {"frames_per_step": spec.frames_per_step}
        parts["random"] = ctx.stage(f"random {game}", lambda game=game: _random_policy(config, ctx, game))
        if config.a2c:
            labels = list(config.a2c_variants)
            members = [v for v in labels for _ in range(config.seeds)]
            out = ctx.stage(f"A2C {game}", lambda game=game, members=members: train_a2c(
                _a2c_settings(config, game), members, ctx=ctx, stream=_stream("a2c", game), desc=f"A2C {_slug(game)}"))
            parts["a2c"] = _by_variant(out, labels, config.seeds) | {"steps": config.a2c_steps}
        if config.dqn:
            variants = dqn_variants(config)
            members = [v for v in variants for _ in range(config.seeds)]
            out = ctx.stage(f"DQN {game}", lambda game=game, members=members: train_dqn(
                _dqn_settings(config, game), members, ctx=ctx, stream=_stream("dqn", game), desc=f"DQN {_slug(game)}"))
            parts["dqn"] = _by_variant(out, [v.label for v in variants], config.seeds) | {"steps": config.dqn_steps}
        grid[game] = parts
    return grid


def run(config: Ch04Config, ctx: RunContext) -> dict:
    """The identities (if asked), then the learning grid; every random number from ``ctx.generator(stream)``."""
    results: dict = {}
    if config.identities:
        results.update(ctx.stage("C4.1", lambda: _bandit(config, ctx)))
        results.update(ctx.stage("C4.2 exact", lambda: _mdp_exact(config, ctx)))
        results.update(ctx.stage("C4.2 sampling", lambda: _mdp_sampling(config, ctx)))
    if config.a2c or config.dqn:
        grid = _grid(config, ctx)
        results["grid"] = grid
        results.update(_claims(config, grid))
    return results


QUICK = Ch04Config()

FULL = dataclasses.replace(
    QUICK,
    cpu_threads=0,
    bandit_instances=2_000,
    mdp_instances=200,
    sample_repeats=1_000,
    sample_sizes=(10, 100, 1000, 10000, 100000),
    games=("MinAtar/Breakout-v1", "MinAtar/Asterix-v1", "MinAtar/Freeway-v1", "MinAtar/SpaceInvaders-v1"),
    seeds=5,
    a2c_steps=5_000_000,
    a2c_envs=16,
    a2c_lr=7e-4,
    a2c_segment_updates=10_000,
    dqn_steps=5_000_000,
    dqn_envs=4,
    dqn_lr=1e-4,
    dqn_memory=100_000,
    dqn_learning_starts=5_000,
    dqn_train_every=1,
    dqn_target_every=1_000,
    dqn_eps_decay=100_000,
    dqn_segment_steps=50_000,
    curve_points=100,
    random_episodes=100,
)
"""MinAtar, four games × five seeds, 5M steps per run (MinAtar's usual budget, one frame per step); A2C's
standard hyperparameters (learning rate 7e-4, 16 copies, n = 5), DQN's of Young and Tian (2019) but Adam."""

EXPERIMENT = register(
    Experiment(
        name="ch04_pg_soft_q",
        chapter=4,
        summary="policy gradients = soft Q-learning: exact identities (eqs. 23, 65), A2C naive/proper/soft-Q, soft DQN",
        config_type=Ch04Config,
        presets={"quick": QUICK, "full": FULL},
        run=run,
        smoke={"bandit_instances": "3", "mdp_instances": "2", "sample_sizes": "10,100", "sample_repeats": "10",
               "seeds": "2", "a2c_steps": "1600", "a2c_segment_updates": "10", "dqn_steps": "1200",
               "dqn_learning_starts": "200", "dqn_segment_steps": "60", "dqn_memory": "400", "curve_points": "4",
               "random_episodes": "4"},
    )
)

ATARI_QUICK = dataclasses.replace(
    QUICK, identities=False, dqn=False, games=("ALE/Pong-v5",), seeds=1, a2c_variants=("proper", "soft_q"),
    a2c_steps=4_000, a2c_envs=4, a2c_lr=7e-4, a2c_segment_updates=100, curve_points=4, random_episodes=2,
)

ATARI_FULL = dataclasses.replace(
    QUICK, cpu_threads=0, identities=False, dqn=False, games=("ALE/Pong-v5", "ALE/Breakout-v5"), seeds=3,
    a2c_variants=("naive", "proper", "soft_q"), a2c_steps=2_500_000, a2c_envs=16, a2c_lr=7e-4,
    a2c_segment_updates=2_000, curve_points=100, random_episodes=20,
)
"""The paper's A2C settings on Pong and Breakout, 3 seeds, 10M frames per run (a quarter of Fig. 3's 40M)."""

ATARI_EXPERIMENT = register(
    Experiment(
        name="ch04_atari",
        chapter=4,
        summary="A2C naive/proper and soft Q-learning on Atari (ale-py's vectorized environment), for a GPU",
        config_type=Ch04Config,
        presets={"quick": ATARI_QUICK, "full": ATARI_FULL},
        run=run,
        smoke={"a2c_steps": "400", "a2c_segment_updates": "5", "random_episodes": "1"},
    )
)
