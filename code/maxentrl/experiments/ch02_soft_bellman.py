"""Chapter 2's experiment: the soft Bellman equation, checked six ways (claims C2.1-C2.6).

C2.1  the soft backup is a γ-contraction (random MDPs, random Q pairs) and
      soft Q-iteration's error stays under γ^k ‖Q₀ − Q*‖∞;
C2.2  π* = exp((Q* − V*)/τ) is self-consistent, and Monte-Carlo
      entropy-augmented returns of π* match V*(s₀);
C2.3  soft policy iteration improves Q monotonically (Theorem 4);
C2.4  V*_τ − V*_0 lies in [0, τ log|A|/(1 − γ)];
C2.5  on a corner-to-corner gridworld the soft-optimal policy spreads over all
      the shortest routes and the hard one takes a single route;
C2.6  the importance-sampled soft value (Haarnoja et al. 2017, eq. 10) is
      unbiased in exp-space for positive proposals, with zero variance under
      the Boltzmann proposal.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from maxentrl.boltzmann import entropy
from maxentrl.errors import ConfigError
from maxentrl.experiments.config import ExperimentConfig, bounded
from maxentrl.experiments.harness import Experiment, RunContext, register
from maxentrl.importance import (
    boltzmann_rejection_sample,
    log_partition_importance,
    soft_value_importance,
    soft_value_quadrature,
    tilted_proposal,
    uniform_proposal,
)
from maxentrl.mdp import GRID_ACTIONS, TabularMDP, gridworld, random_mdp, state_visitation
from maxentrl.rollout import horizon_for, rollout_returns, truncation_bound
from maxentrl.soft_bellman import (
    expected_next_value,
    soft_value_difference,
    greedy_policy,
    maxent_policy,
    soft_bellman_backup,
    soft_policy_evaluation,
    soft_policy_iteration,
    soft_value_iteration,
    value_iteration,
)

__all__ = ["Ch02Config", "run", "bimodal_q", "EXPERIMENT"]

DTYPE = torch.float64


@dataclass(frozen=True)
class Ch02Config(ExperimentConfig):
    """Configuration of chapter 2's experiment (all computations in float64)."""

    n_states: int = bounded(6, 2, 64)
    """S, the number of states of the random MDPs (C2.1-C2.4)."""

    n_actions: int = bounded(4, 2, 64)
    """|A|, the number of actions of the random MDPs."""

    concentration: float = bounded(0.5, 1e-3, 1e3)
    """Dirichlet concentration of the random transition rows (small: nearly deterministic)."""

    chunk_size: int = bounded(10_000, 1, 1_000_000)
    """MDPs processed at once in C2.1 and C2.3 (bounds memory for the big batches)."""

    contraction_triples: int = bounded(10_000, 1, 10**8)
    """C2.1: number of random (MDP, Q₁, Q₂) triples."""

    gamma_range: tuple[float, float] = bounded((0.5, 0.99), 0.0, 1.0, open_low=True, open_high=True, ordered=True)
    """C2.1: each MDP's discount is drawn uniformly from this range."""

    tau_range: tuple[float, float] = bounded((1e-3, 1e3), 1e-6, 1e6, ordered=True)
    """C2.1: each MDP's temperature τ is drawn log-uniformly from this range."""

    iteration_mdps: int = bounded(16, 1, 100_000)
    """C2.1: MDPs on which soft Q-iteration's error is followed."""

    iteration_steps: int = bounded(300, 1, 100_000)
    """C2.1: backups followed; γ = 0.9 there (0.9^300 ≈ 2e-14: down to the float64 floor)."""

    mc_mdps: int = bounded(4, 1, 10_000)
    """C2.2: MDPs whose V*(s₀) is checked by rollouts."""

    mc_tau: float = bounded(0.5, 1e-3, 1e3)
    """C2.2: temperature."""

    mc_gamma: float = bounded(0.8, 0.0, 0.99, open_low=True)
    """C2.2: discount (at most 0.99, so that the rollout horizon stays finite)."""

    mc_episodes: int = bounded(4_000, 2, 10**7)
    """C2.2: rollouts per MDP."""

    improvement_mdps: int = bounded(1_000, 1, 10**8)
    """C2.3: MDPs on which soft policy iteration is run."""

    improvement_iterations: int = bounded(40, 1, 10_000)
    """C2.3: the most improvement steps per MDP."""

    improvement_gamma_range: tuple[float, float] = bounded((0.5, 0.95), 0.0, 1.0, open_low=True, open_high=True,
                                                           ordered=True)
    """C2.3: each MDP's discount is drawn uniformly from this range."""

    improvement_tau_range: tuple[float, float] = bounded((1e-2, 1e1), 1e-6, 1e6, ordered=True)
    """C2.3: each MDP's temperature τ is drawn log-uniformly from this range."""

    gap_mdps: int = bounded(64, 1, 1_000_000)
    """C2.4: MDPs on which V*_τ − V*_0 is computed."""

    gap_taus: tuple[float, ...] = bounded((1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0), 1e-4, 1e3, max_len=100)
    """C2.4: temperatures."""

    gap_gamma: float = bounded(0.9, 0.0, 0.99, open_low=True)
    """C2.4: discount."""

    grid_size: int = bounded(5, 2, 50)
    """C2.5: side of the square gridworld."""

    grid_gamma: float = bounded(0.95, 0.0, 1.0, open_low=True, open_high=True)
    """C2.5: discount of the gridworld."""

    grid_taus: tuple[float, ...] = bounded((0.05, 0.3, 1.0, 3.0), 1e-3, 1e3, max_len=20)
    """C2.5: temperatures whose visitation maps are drawn."""

    grid_horizon: int = bounded(300, 1, 100_000)
    """C2.5: steps over which expected visits are summed."""

    grid_visit_threshold: float = bounded(1e-3, 0.0, 1.0, open_low=True, open_high=True)
    """C2.5: a cell counts as visited when its expected number of visits is at least this."""

    is_tau: float = bounded(0.5, 1e-2, 1e2)
    """C2.6: temperature of the one-dimensional soft value."""

    is_samples: tuple[int, ...] = bounded((1, 4, 16, 64, 256, 1024), 1, 100_000, max_len=30, ordered=True)
    """C2.6: numbers K of action samples per estimate."""

    is_repeats: int = bounded(2_000, 2, 10**6)
    """C2.6: independent estimates per (proposal, K)."""

    def check(self) -> None:
        if self.is_repeats * max(self.is_samples) > 10**9:
            raise ConfigError("is_repeats × the largest is_samples must stay below 1e9 action samples")


# -- C2.1 ---------------------------------------------------------------------
def _random_taus(n: int, tau_range: tuple[float, float], generator: torch.Generator) -> Tensor:
    """n temperatures drawn log-uniformly from ``tau_range``."""
    u = torch.rand(n, generator=generator, dtype=DTYPE, device=generator.device)
    low, high = math.log10(tau_range[0]), math.log10(tau_range[1])
    return 10.0 ** (low + (high - low) * u)


def _contraction(config: Ch02Config, ctx: RunContext) -> dict:
    """Largest ‖TQ₁ − TQ₂‖∞ / ‖Q₁ − Q₂‖∞ − γ over random triples (three kinds of pairs)."""
    gen = ctx.generator(1)
    st = ctx.restored() or {
        "done": 0, "max_excess": -math.inf, "max_ratio_over_gamma": -math.inf, "max_direct_excess": -math.inf,
        "max_excess_ulps": -math.inf, "sample_ratio": [], "sample_gamma": [],
    }
    bar = ctx.bar(total=config.contraction_triples, desc="C2.1 contraction", initial=st["done"])
    while st["done"] < config.contraction_triples:
        done = st["done"]
        b = min(config.chunk_size, config.contraction_triples - done)
        mdp = random_mdp(b, config.n_states, config.n_actions, generator=gen, concentration=config.concentration,
                         gamma=config.gamma_range, dtype=DTYPE)
        tau = _random_taus(b, config.tau_range, gen)
        shape = (b, config.n_states, config.n_actions)
        scale = 10.0 ** (4 * torch.rand(b, 1, 1, generator=gen, dtype=DTYPE, device=gen.device) - 2)  # 1e-2 .. 1e2
        Q1 = scale * torch.randn(shape, generator=gen, dtype=DTYPE, device=gen.device)
        noise = scale * torch.randn(shape, generator=gen, dtype=DTYPE, device=gen.device)
        kind = torch.arange(b, device=gen.device) % 3  # 0: independent, 1: small perturbation, 2: constant shift
        shift = scale * torch.randn(b, 1, 1, generator=gen, dtype=DTYPE, device=gen.device)
        Q2 = torch.where((kind == 0).view(-1, 1, 1), Q1 + noise,
                         torch.where((kind == 1).view(-1, 1, 1), Q1 + 1e-3 * noise, Q1 + shift))
        den = (Q1 - Q2).abs().amax(dim=(1, 2))
        g = mdp.gamma_tensor()
        # (a) the backups subtracted as they are computed: rounding of size eps·‖TQ‖∞ enters
        TQ1, TQ2 = soft_bellman_backup(Q1, mdp, tau), soft_bellman_backup(Q2, mdp, tau)
        direct = (TQ1 - TQ2).abs().amax(dim=(1, 2)) / den
        ulp = torch.finfo(DTYPE).eps * torch.maximum(TQ1.abs().amax(dim=(1, 2)), TQ2.abs().amax(dim=(1, 2)))
        st["max_direct_excess"] = max(st["max_direct_excess"], float((direct - g).max()))
        st["max_excess_ulps"] = max(st["max_excess_ulps"], float(((direct - g) * den / ulp).max()))
        # (b) the same difference without cancellation: TQ₁ − TQ₂ = γ P (V(Q₁) − V(Q₂))
        dV = soft_value_difference(Q1, Q2, tau)
        ratio = (g.view(-1, 1, 1) * expected_next_value(mdp, dV)).abs().amax(dim=(1, 2)) / den
        st["max_excess"] = max(st["max_excess"], float((ratio - g).max()))
        st["max_ratio_over_gamma"] = max(st["max_ratio_over_gamma"], float((ratio / g).max()))
        if len(st["sample_ratio"]) < 3000:
            st["sample_ratio"] += ratio[:1000].tolist()
            st["sample_gamma"] += g[:1000].tolist()
        st["done"] = done + b
        bar.update(b)
        if ctx.checkpoint_due():
            ctx.checkpoint(st)
    bar.close()
    return {
        "c21_triples": st["done"],
        "c21_max_excess": st["max_excess"],
        "c21_max_ratio_over_gamma": st["max_ratio_over_gamma"],
        "c21_max_direct_excess": st["max_direct_excess"],
        "c21_max_direct_excess_ulps": st["max_excess_ulps"],
        "c21_sample_ratio": st["sample_ratio"],
        "c21_sample_gamma": st["sample_gamma"],
    }


def _iteration_error(config: Ch02Config, ctx: RunContext) -> dict:
    """‖Q_k − Q*‖∞ of soft Q-iteration against the bound γ^k ‖Q₀ − Q*‖∞ (γ = 0.9, τ = 1)."""
    gen = ctx.generator(2)
    gamma, tau = 0.9, 1.0
    mdp = random_mdp(config.iteration_mdps, config.n_states, config.n_actions, generator=gen,
                     concentration=config.concentration, gamma=gamma, dtype=DTYPE)
    Q_star, _, info = soft_value_iteration(mdp, tau, tol=1e-15, max_iter=10_000)
    Q = 10.0 * torch.randn(Q_star.shape, generator=gen, dtype=DTYPE, device=gen.device)
    errors = [(Q - Q_star).abs().amax(dim=(1, 2))]
    for _ in range(config.iteration_steps):
        Q = soft_bellman_backup(Q, mdp, tau)
        errors.append((Q - Q_star).abs().amax(dim=(1, 2)))
    err = torch.stack(errors)  # [k, b]
    k = torch.arange(err.shape[0], dtype=DTYPE, device=err.device).unsqueeze(-1)
    bound = gamma**k * err[0]
    meaningful = bound > 1e-9  # below this, float64 rounding of Q* (~1e-14) and the bound itself dominate
    return {
        "c21_iter_gamma": gamma,
        "c21_iter_errors": err.T.tolist(),  # [b][k]
        "c21_iter_max_violation": float((err - bound).max()),
        "c21_iter_max_ratio": float((err / bound)[meaningful].max()),
        "c21_qstar_error_bound": float(info["error_bound"].max()),
    }


# -- C2.2 ---------------------------------------------------------------------
def _monte_carlo(config: Ch02Config, ctx: RunContext) -> dict:
    gen = ctx.generator(3)
    tau, gamma = config.mc_tau, config.mc_gamma
    mdp = random_mdp(config.mc_mdps, config.n_states, config.n_actions, generator=gen,
                     concentration=config.concentration, gamma=gamma, dtype=DTYPE)
    Q_star, V_star, _ = soft_value_iteration(mdp, tau, tol=1e-13)
    pi_star = maxent_policy(Q_star, tau)  # eq. 6: exp((Q* − V*)/τ)
    explicit = torch.exp((Q_star - V_star.unsqueeze(-1)) / tau)
    Q_pi, V_pi = soft_policy_evaluation(mdp, pi_star, tau)
    horizon = horizon_for(gamma, 1e-12)
    G = rollout_returns(mdp, pi_star, tau, n_episodes=config.mc_episodes, horizon=horizon, generator=gen, start_state=0)
    mean, se = G.mean(dim=1), G.std(dim=1) / math.sqrt(config.mc_episodes)
    z = (mean - V_star[:, 0]) / se
    first_entropy = tau * entropy(pi_star[:, 0], dim=-1)  # τ H(π*(·|s₀)): the term that V has and Q lacks
    rows = [
        {"mdp": i, "V_star_s0": float(V_star[i, 0]), "mc_mean": float(mean[i]), "mc_se": float(se[i]), "z": float(z[i]),
         "first_entropy": float(first_entropy[i])}
        for i in range(config.mc_mdps)
    ]
    return {
        "c22_table": rows,
        "c22_max_abs_z": float(z.abs().max()),
        "c22_min_first_entropy_in_se": float((first_entropy / se).min()),
        "c22_policy_formula_error": float((pi_star - explicit).abs().max()),
        "c22_policy_sums_error": float((explicit.sum(-1) - 1).abs().max()),
        "c22_q_fixed_point_error": float((Q_pi - Q_star).abs().max()),
        "c22_v_fixed_point_error": float((V_pi - V_star).abs().max()),
        "c22_horizon": horizon,
        "c22_truncation_bound": float(truncation_bound(mdp, tau, horizon).max()),
        "c22_episodes": config.mc_episodes,
    }


# -- C2.3 ---------------------------------------------------------------------
def _improvement(config: Ch02Config, ctx: RunContext) -> dict:
    gen = ctx.generator(4)
    st = ctx.restored() or {"done": 0, "min_diff": math.inf, "min_rel": math.inf, "worst_final": 0.0,
                            "iterations": [], "gap_curve": None}
    bar = ctx.bar(total=config.improvement_mdps, desc="C2.3 policy iteration", initial=st["done"])
    while st["done"] < config.improvement_mdps:
        done = st["done"]
        b = min(config.chunk_size, config.improvement_mdps - done)
        mdp = random_mdp(b, config.n_states, config.n_actions, generator=gen, concentration=config.concentration,
                         gamma=config.improvement_gamma_range, dtype=DTYPE)
        tau = _random_taus(b, config.improvement_tau_range, gen)
        # a random start policy: Dirichlet(1) rows
        e = -torch.log(torch.rand((b, config.n_states, config.n_actions), generator=gen, dtype=DTYPE, device=gen.device))
        pi0 = e / e.sum(-1, keepdim=True)
        _, Q, history = soft_policy_iteration(mdp, tau, pi0=pi0, max_iter=config.improvement_iterations, tol=1e-10)
        st["min_diff"] = min(st["min_diff"], min(history["min_improvement"]))
        for Q_prev, Q_next in zip(history["Q"][:-1], history["Q"][1:]):
            rel = (Q_next - Q_prev) / Q_prev.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1.0)
            st["min_rel"] = min(st["min_rel"], float(rel.min()))
        st["iterations"].append(history["iterations"])
        # distance of the last iterate to Q*: ‖Q − Q*‖∞ ≤ ‖TQ − Q‖∞ / (1 − γ) for a γ-contraction
        g = mdp.gamma_tensor()
        scale = Q.abs().amax(dim=(1, 2)).clamp_min(1.0)
        residual = (soft_bellman_backup(Q, mdp, tau) - Q).abs().amax(dim=(1, 2))
        st["worst_final"] = max(st["worst_final"], float((residual / (1 - g) / scale).max()))
        if st["gap_curve"] is None:  # the first chunk's median relative distance to the last iterate, for the figure
            gaps = torch.stack([((Qi - Q).abs().amax(dim=(1, 2)) / scale) for Qi in history["Q"]])
            st["gap_curve"] = gaps.median(dim=1).values.tolist()
        st["done"] = done + b
        bar.update(b)
        if ctx.checkpoint_due():
            ctx.checkpoint(st)
    bar.close()
    return {
        "c23_mdps": st["done"],
        "c23_min_improvement": st["min_diff"],
        "c23_min_relative_improvement": st["min_rel"],
        "c23_max_iterations": max(st["iterations"]),
        "c23_final_relative_gap": st["worst_final"],
        "c23_gap_curve": st["gap_curve"],
    }


# -- C2.4 ---------------------------------------------------------------------
def _hard_limit(config: Ch02Config, ctx: RunContext) -> dict:
    gen = ctx.generator(5)
    gamma = config.gap_gamma
    mdp = random_mdp(config.gap_mdps, config.n_states, config.n_actions, generator=gen,
                     concentration=config.concentration, gamma=gamma, dtype=DTYPE)
    _, V_hard, _ = value_iteration(mdp, tol=1e-13)
    rows = []
    for tau in config.gap_taus:
        _, V_soft, _ = soft_value_iteration(mdp, tau, tol=1e-13)
        gap = V_soft - V_hard
        bound = tau * math.log(config.n_actions) / (1 - gamma)
        rows.append({"tau": tau, "max_gap": float(gap.max()), "min_gap": float(gap.min()), "bound": bound,
                     "max_gap_over_bound": float(gap.max()) / bound})
    return {
        "c24_table": rows,
        "c24_max_gap_over_bound": max(r["max_gap_over_bound"] for r in rows),
        "c24_min_gap": min(r["min_gap"] for r in rows),
    }


# -- C2.5 ---------------------------------------------------------------------
def _route_probability(mdp: TabularMDP, pi: Tensor, route_policy: Tensor, goal: int, max_steps: int) -> tuple[float, list[int]]:
    """Probability under ``pi`` of the deterministic route that ``route_policy`` follows from the start."""
    s = int(mdp.mu0[0].argmax())
    prob, cells = 1.0, [s]
    for _ in range(max_steps):
        if s == goal:
            break
        a = int(route_policy[0, s].argmax())
        prob *= float(pi[0, s, a])
        s = int(mdp.P[0, s, a].argmax())
        cells.append(s)
    return prob, cells


def _visits(mdp: TabularMDP, pi: Tensor, goal: int, horizon: int) -> Tensor:
    """Expected visits to each cell within ``horizon`` steps; at the goal, the probability of having reached it."""
    visits = state_visitation(mdp, pi, horizon=horizon)[0]
    after = state_visitation(mdp, pi, horizon=horizon + 1)[0]
    visits[goal] = after[goal] - visits[goal]  # Pr(s_T = goal): the goal is absorbing
    return visits


def _gridworld(config: Ch02Config, ctx: RunContext) -> dict:
    n = config.grid_size
    mdp = gridworld(n, n, gamma=config.grid_gamma, dtype=DTYPE, device=ctx.device)
    goal = n * n - 1
    Q_hard, _, _ = value_iteration(mdp, tol=1e-13)
    pi_hard = greedy_policy(Q_hard)
    _, hard_route = _route_probability(mdp, pi_hard, pi_hard, goal, 4 * n * n)
    policies = [(0.0, pi_hard)]
    for tau in config.grid_taus:
        Q, _, _ = soft_value_iteration(mdp, tau, tol=1e-13)
        policies.append((tau, maxent_policy(Q, tau)))
    maps, rows = {}, []
    for tau, pi in policies:
        visits = _visits(mdp, pi, goal, config.grid_horizon)
        maps["hard" if tau == 0 else f"tau={tau:g}"] = visits.reshape(n, n).tolist()
        p_route, _ = _route_probability(mdp, pi, pi_hard, goal, 4 * n * n)
        rows.append({
            "tau": tau,
            "cells_visited": int((visits[:goal] >= config.grid_visit_threshold).sum()) + 1,
            "hard_route_probability": p_route,
            "expected_steps": float(visits[:goal].sum()),
            "p_reached": float(visits[goal]),
            "p_first_down": float(pi[0, 0, GRID_ACTIONS.index("down")]),
            "p_first_right": float(pi[0, 0, GRID_ACTIONS.index("right")]),
        })
    return {
        "c25_maps": maps,
        "c25_table": rows,
        "c25_hard_route": hard_route,
        "c25_n_shortest_routes": math.comb(2 * n - 2, n - 1),
        "c25_n_cells": n * n,
    }


# -- C2.6 ---------------------------------------------------------------------
def bimodal_q(a: Tensor) -> Tensor:
    """The one-dimensional soft Q of C2.6 on actions a ∈ [−1, 1]: two bumps, at a = 0.5 (higher, narrow) and a = −0.6."""
    return 2.0 * torch.exp(-((a - 0.5) ** 2) / 0.02) + 1.5 * torch.exp(-((a + 0.6) ** 2) / 0.05)


def _importance(config: Ch02Config, ctx: RunContext) -> dict:
    gen = ctx.generator(6)
    tau, low, high = config.is_tau, -1.0, 1.0
    V = soft_value_quadrature(bimodal_q, tau, low, high)
    lipschitz = 25.0  # |Q'| ≤ 2·(2/(0.02 e))^½ + 1.5·(2/(0.05 e))^½ ≈ 17.9
    rows = []
    for name in ("uniform", "tilted", "boltzmann"):
        for K in config.is_samples:
            shape = (config.is_repeats, K)
            if name == "uniform":
                a, log_q = uniform_proposal(shape, low, high, generator=gen)
            elif name == "tilted":
                a, log_q = tilted_proposal(shape, low, high, slope=-0.9, generator=gen)
            else:
                a = boltzmann_rejection_sample(bimodal_q, tau, low, high, config.is_repeats * K,
                                               lipschitz=lipschitz, generator=gen).reshape(shape)
                log_q = (bimodal_q(a) - V) / tau  # the normalized Boltzmann density exp((Q − V)/τ)
            Q = bimodal_q(a)
            Z_ratio = torch.exp(log_partition_importance(Q, log_q, tau) - V / tau)  # Ẑ / Z, mean 1 if unbiased
            V_hat = soft_value_importance(Q, log_q, tau)
            se = float(Z_ratio.std() / math.sqrt(config.is_repeats))
            rows.append({
                "proposal": name, "K": K,
                "mean_Z_ratio": float(Z_ratio.mean()), "se_Z_ratio": se,
                "z": (float(Z_ratio.mean()) - 1.0) / se if se > 0 else 0.0,
                "var_V_hat": float(V_hat.var()), "bias_V_hat": float(V_hat.mean() - V),
            })
    stochastic = [r for r in rows if r["proposal"] != "boltzmann"]
    return {
        "c26_V": V,
        "c26_table": rows,
        "c26_max_abs_z": max(abs(r["z"]) for r in stochastic),
        "c26_boltzmann_max_var": max(r["var_V_hat"] for r in rows if r["proposal"] == "boltzmann"),
        "c26_uniform_var_K1": next(r["var_V_hat"] for r in rows if r["proposal"] == "uniform" and r["K"] == min(config.is_samples)),
    }


STAGES = (
    ("C2.1 contraction", _contraction),
    ("C2.1 iteration", _iteration_error),
    ("C2.2", _monte_carlo),
    ("C2.3", _improvement),
    ("C2.4", _hard_limit),
    ("C2.5", _gridworld),
    ("C2.6", _importance),
)
"""The experiment's resumable stages, in order (C2.1 and C2.3 also checkpoint inside their loops)."""


def run(config: Ch02Config, ctx: RunContext) -> dict:
    """All six claims; every random number comes from ``ctx.generator(stream)``."""
    results: dict = {}
    for name, part in STAGES:
        results.update(ctx.stage(name, lambda part=part: part(config, ctx)))
    return results


EXPERIMENT = register(
    Experiment(
        name="ch02_soft_bellman",
        chapter=2,
        summary="soft Bellman backup: contraction, fixed point, policy improvement, hard limit, gridworld, eq. 10",
        config_type=Ch02Config,
        presets={
            "quick": Ch02Config(),
            "full": dataclasses.replace(
                Ch02Config(),
                n_states=10,
                n_actions=5,
                chunk_size=20_000,
                contraction_triples=100_000,
                iteration_mdps=256,
                mc_mdps=16,
                mc_episodes=50_000,
                improvement_mdps=100_000,
                gap_mdps=1_024,
                is_repeats=20_000,
            ),
        },
        run=run,
        smoke={"contraction_triples": "1500", "chunk_size": "300", "improvement_mdps": "300", "iteration_mdps": "4",
               "mc_episodes": "200", "gap_mdps": "8", "is_samples": "1,4,16", "is_repeats": "50"},
    )
)
