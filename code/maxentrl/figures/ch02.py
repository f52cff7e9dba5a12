"""Figures and tables of chapter 2 (the soft Bellman equation), drawn from the experiment's results.

Each function takes ``R``, the ``results`` dict of a ``ch02_soft_bellman``
run, and returns a figure or a text table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from maxentrl.figures import new_figure

__all__ = [
    "contraction",
    "gridworld_table",
    "gridworld_visits",
    "hard_limit",
    "importance_sampling",
    "monte_carlo_table",
    "policy_iteration",
    "quick_full_table",
]


def contraction(R: Mapping[str, Any]) -> Figure:
    """C2.1. Left: the ratio ‖TQ₁ − TQ₂‖∞/‖Q₁ − Q₂‖∞ of sampled pairs against γ; right: soft Q-iteration's error and its bound."""
    fig, axes = new_figure(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    ax.scatter(R["c21_sample_gamma"], R["c21_sample_ratio"], s=4, alpha=0.4, label="random pairs")
    grid_g = np.linspace(min(R["c21_sample_gamma"]), max(R["c21_sample_gamma"]), 10)
    ax.plot(grid_g, grid_g, "k--", lw=1, label=r"$\gamma$")
    ax.set(xlabel=r"$\gamma$", ylabel=r"$\|TQ_1-TQ_2\|_\infty / \|Q_1-Q_2\|_\infty$", title="contraction")
    ax.legend(loc="upper left")
    ax = axes[1]
    errors = np.array(R["c21_iter_errors"])  # [mdp, k]
    k = np.arange(errors.shape[1])
    gamma_it = R["c21_iter_gamma"]
    for e in errors:
        ax.semilogy(k, e, color="C0", alpha=0.35, lw=1)
        ax.semilogy(k, e[0] * gamma_it**k, color="C3", alpha=0.35, lw=1, ls="--")
    ax.plot([], [], color="C0", label=r"$\|Q_k - Q^*\|_\infty$")
    ax.plot([], [], color="C3", ls="--", label=r"$\gamma^k \|Q_0 - Q^*\|_\infty$")
    ax.set(xlabel="backups $k$", ylabel="error", title=rf"soft Q-iteration, $\gamma$ = {gamma_it}", ylim=(1e-15, None))
    ax.legend()
    fig.tight_layout()
    return fig


def monte_carlo_table(R: Mapping[str, Any]) -> str:
    """C2.2: V*(s₀) against the mean of sampled returns, per MDP."""
    lines = [f"{'MDP':>4} {'V*(s0)':>10} {'MC mean':>10} {'std. err.':>10} {'z':>7}"]
    for row in R["c22_table"]:
        lines.append(f"{row['mdp']:>4} {row['V_star_s0']:>10.4f} {row['mc_mean']:>10.4f} {row['mc_se']:>10.4f} {row['z']:>7.2f}")
    return "\n".join(lines)


def policy_iteration(R: Mapping[str, Any]) -> Figure:
    """C2.3: the median relative distance of Q^{π_i} from its limit against the step i."""
    curve = np.array(R["c23_gap_curve"])
    fig, ax = new_figure(figsize=(5, 3.4))
    ax.semilogy(np.arange(len(curve)), np.maximum(curve, 1e-16), "o-")
    ax.set(xlabel="policy iteration step $i$", ylabel=r"median $\|Q^{\pi_i} - Q^{\pi_\infty}\|_\infty / \|Q\|_\infty$",
           title="soft policy iteration")
    fig.tight_layout()
    return fig


def hard_limit(R: Mapping[str, Any]) -> Figure:
    """C2.4: the largest and smallest gap V*_τ − V*_0 over the MDPs against τ, with the bound τ log|A|/(1 − γ)."""
    rows = R["c24_table"]
    t = np.array([r["tau"] for r in rows])
    fig, ax = new_figure(figsize=(5.5, 3.8))
    ax.loglog(t, [r["max_gap"] for r in rows], "o-", label=r"largest $V^*_\tau - V^*_0$")
    ax.loglog(t, [max(r["min_gap"], 1e-16) for r in rows], "s-", label=r"smallest $V^*_\tau - V^*_0$")
    ax.loglog(t, [r["bound"] for r in rows], "k--", label=r"bound $\tau\log|A|/(1-\gamma)$")
    ax.set(xlabel=r"temperature $\tau$", ylabel="gap to the hard optimum", title="the hard limit", ylim=(1e-6, None))
    ax.legend()
    fig.tight_layout()
    return fig


def gridworld_visits(R: Mapping[str, Any]) -> Figure:
    """C2.5: expected visits of each gridworld cell under the hard policy and the soft ones."""
    maps = R["c25_maps"]
    n = int(math.isqrt(R["c25_n_cells"]))
    fig, axes = new_figure(1, len(maps), figsize=(2.6 * len(maps), 2.9))
    im = None
    for ax, (name, m) in zip(axes, maps.items()):
        m = np.array(m).reshape(n, n)
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=1)
        ax.set_title("hard max" if name == "hard" else name.replace("tau", r"$\tau$"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6.5, color="w" if v < 0.6 else "k")
    fig.colorbar(im, ax=axes, shrink=0.8, label="expected visits (colour capped at 1)")
    return fig


def gridworld_table(R: Mapping[str, Any]) -> str:
    """C2.5 as text: cells used, probability of the hard route, expected steps and the first step's probabilities."""
    lines = [f"{'tau':>6} {'cells used':>10} {'P(hard route)':>13} {'E[steps]':>9} {'P(down), P(right) at start':>28}"]
    for row in R["c25_table"]:
        lines.append(f"{row['tau']:>6g} {row['cells_visited']:>10d} {row['hard_route_probability']:>13.4f} "
                     f"{row['expected_steps']:>9.2f} {row['p_first_down']:>13.4f} {row['p_first_right']:>13.4f}")
    return "\n".join(lines)


def importance_sampling(R: Mapping[str, Any], q_fn: Callable[[torch.Tensor], torch.Tensor], tau: float) -> Figure:
    """C2.6. Left: Q and the proposals; middle: the variance of V̂_K; right: the mean of exp(V̂_K/τ)/Z ± 3 s.e."""
    rows = R["c26_table"]
    fig, axes = new_figure(1, 3, figsize=(13, 3.6))
    a = torch.linspace(-1, 1, 801, dtype=torch.float64)
    axes[0].plot(a, q_fn(a), label=r"$Q(a)$")
    axes[0].plot(a, torch.exp((q_fn(a) - R["c26_V"]) / tau), label=rf"Boltzmann density, $\tau = {tau:g}$")
    axes[0].plot(a, torch.full_like(a, 0.5), label="uniform proposal")
    axes[0].plot(a, (1 - 0.9 * a) / 2, label="tilted proposal")
    axes[0].set(xlabel="action $a$", ylabel="value or density", title="Q and the proposals")
    axes[0].legend(fontsize=7)
    for name, marker in (("uniform", "o"), ("tilted", "s"), ("boltzmann", "^")):
        sub = [r for r in rows if r["proposal"] == name]
        K = [r["K"] for r in sub]
        axes[1].loglog(K, [max(r["var_V_hat"], 1e-33) for r in sub], marker + "-",
                       label=name + (" (a variance of 0 drawn at 1e-33)" if name == "boltzmann" else ""))
        axes[2].errorbar(K, [r["mean_Z_ratio"] for r in sub], yerr=[3 * r["se_Z_ratio"] for r in sub],
                         marker=marker, capsize=3, label=name)
    axes[1].set(xlabel="samples $K$", ylabel=r"Var$[\hat V_K]$", title="variance of the estimate")
    axes[1].legend(fontsize=8)
    axes[2].axhline(1.0, color="k", lw=1)
    axes[2].set_xscale("log")
    axes[2].set(xlabel="samples $K$", ylabel=r"mean of $\exp(\hat V_K/\tau)/Z$ ± 3 s.e.", title="unbiased in exp-space")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


QUICK_FULL_ROWS = (
    ("C2.1 triples", "c21_triples", "d"),
    ("C2.1 max ratio - gamma", "c21_max_excess", ".1e"),
    ("C2.1 iteration: max excess over gamma^k bound", "c21_iter_max_violation", ".1e"),
    ("C2.2 max |z| of MC vs V*", "c22_max_abs_z", ".2f"),
    ("C2.3 MDPs", "c23_mdps", "d"),
    ("C2.3 smallest improvement", "c23_min_improvement", ".1e"),
    ("C2.4 largest gap / bound", "c24_max_gap_over_bound", ".3f"),
    ("C2.6 max |z| in exp-space", "c26_max_abs_z", ".2f"),
    ("C2.6 Boltzmann-proposal variance", "c26_boltzmann_max_var", ".1e"),
)
"""(label, result key, format) of each row of :func:`quick_full_table`."""


def quick_full_table(R: Mapping[str, Any], F: Mapping[str, Any]) -> str:
    """Each claim's headline number in the quick run ``R`` and the full run ``F``, side by side."""
    lines = [f"{'':48} {'quick':>12} {'full':>12}"]
    for label, key, fmt in QUICK_FULL_ROWS:
        lines.append(f"{label:48} {format(R[key], fmt):>12} {format(F[key], fmt):>12}")
    return "\n".join(lines)
