"""Figures, tables and verdict sentences of chapter 5, from the result dictionary of ``ch05_natural_gradients``.

Every function takes ``results`` (the ``results`` of a :class:`~maxentrl.experiments.RunResult`)
and returns a matplotlib figure or plain text; nothing here computes a claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from maxentrl.figures import device_label

__all__ = [
    "LABELS",
    "COLOURS",
    "c51_figure",
    "c52_figure",
    "c53_figure",
    "c54_figure",
    "c53_table",
    "c54_table",
    "run_label",
    "comparison_table",
]

LABELS = {
    "npg": "natural policy gradient",
    "damped": "damped soft-Q",
    "pg": "vanilla policy gradient",
    "undamped": "undamped soft-Q (ε = 1)",
}
COLOURS = {"npg": "C0", "damped": "C1", "pg": "C2", "undamped": "C3"}
TASK_TITLES = {"tabular": "table of logits", "linear": "log-linear policy", "mlp": "tanh network"}
EPS64 = float(np.finfo(np.float64).eps)


def _style() -> None:
    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8})


def run_label(provenance: Mapping[str, Any], preset: str) -> str:
    """'quick run, CPU (…), commit abc1234' — which run a figure shows."""
    device = device_label(provenance)
    commit = str(provenance.get("git_commit", "unknown"))[:12]
    return f"{preset} run on {device}, commit {commit}"


# -- C5.1 -------------------------------------------------------------------------
def c51_figure(results: Mapping[str, Any]) -> Figure:
    """Explicit-inverse error against cond(F) for the under-parametrized network, with the line cond(F)·eps."""
    _style()
    rows = results["c51_narrow"]
    cond = np.array([r["cond"] for r in rows])
    explicit = np.array([max(r["explicit"], 1e-18) for r in rows])
    cg = np.array([max(r["cg"], 1e-18) for r in rows])
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    ax.loglog(cond, explicit, "o", ms=3, alpha=0.5, label="explicit solve F⁻¹g vs least squares (eq. 66)")
    ax.loglog(cond, cg, "s", ms=3, alpha=0.5, label="conjugate gradients (Fisher-vector products) vs least squares")
    grid = np.logspace(math.log10(cond.min()), math.log10(cond.max()), 50)
    ax.loglog(grid, grid * EPS64, "k--", lw=1, label="cond(F) · machine epsilon")
    ax.axhline(1e-10, color="gray", ls=":", lw=1, label="1e-10")
    ax.set(xlabel="condition number of the Fisher matrix", ylabel="relative difference of the natural gradients",
           title="C5.1: under-parametrized network, exact expectations")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


# -- C5.2 -------------------------------------------------------------------------
def _band(ax, x, lo, mid, hi, colour, label, marker) -> None:
    ax.fill_between(x, lo, hi, color=colour, alpha=0.15, lw=0)
    ax.loglog(x, mid, marker + "-", color=colour, label=label, ms=4)


def c52_figure(results: Mapping[str, Any], *, title: str = "") -> Figure:
    """Differences in log π after one step against ε, with 10–90% bands and reference slopes."""
    _style()
    eps = np.array(results["c52_eps"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind, name in ((axes[0], "tab", "table of logits"), (axes[1], "net", "small tanh network")):
        r = results
        _band(ax, eps, r[f"c52_{kind}_damped_q10"], r[f"c52_{kind}_damped_median"], r[f"c52_{kind}_damped_q90"],
              "C1", "damped soft-Q step (solved) − NPG step", "o")
        _band(ax, eps, r[f"c52_{kind}_undamped_q10"], r[f"c52_{kind}_undamped_median"], r[f"c52_{kind}_undamped_q90"],
              "C3", "undamped soft-Q gradient step − NPG step", "s")
        ax.loglog(eps, r[f"c52_{kind}_size_median"], ":", color="gray", label="size of the NPG step itself")
        centre = len(eps) // 2
        references = [(2, f"c52_{kind}_damped_median", "--"), (1, f"c52_{kind}_undamped_median", ":")]
        if kind == "tab":
            references.append((3, f"c52_{kind}_damped_median", "-."))
        for power, key, ls in references:
            anchor = r[key][centre] * 3.0
            ax.loglog(eps, anchor * (eps / eps[centre]) ** power, color="k", lw=0.8, ls=ls, alpha=0.6,
                      label=f"slope {power}")
        s_d = r[f"c52_{kind}_damped_slope"]["median"]
        s_u = r[f"c52_{kind}_undamped_slope"]["median"]
        ax.set(xlabel="damping ε (NPG step ε/τ)", title=f"{name}: fitted slopes {s_d:.2f} and {s_u:.2f}")
    axes[0].set_ylabel(r"max$_{s,a}$ |difference in log π| (median over MDPs)")
    for ax in axes:
        ax.legend(loc="lower right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# -- C5.3 -------------------------------------------------------------------------
def _c53_panels(c53: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    order = ["tabular", "linear"] + sorted(k for k in c53 if k.startswith("mlp"))
    return [(k, c53[k]) for k in order if k in c53]


def c53_figure(c53: Mapping[str, Any], *, title: str = "") -> Figure:
    """Suboptimality against updates for the four learners, median and 10–90% band over seeds, one panel per task."""
    _style()
    panels = _c53_panels(c53)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.1 * len(panels), 3.9), sharey=True, squeeze=False)
    for ax, (key, run) in zip(axes[0], panels):
        for alg in ("npg", "damped", "pg", "undamped"):
            c = run["curves"][alg]
            k = np.arange(len(c["median"]))
            floor = 1e-4
            ax.fill_between(k, np.maximum(c["q10"], floor), np.maximum(c["q90"], floor), color=COLOURS[alg],
                            alpha=0.18, lw=0)
            ax.semilogy(k, np.maximum(c["median"], floor), color=COLOURS[alg], label=LABELS[alg],
                        ls="--" if alg == "damped" else "-")
        ax.set(xlabel="policy update", title=f"{TASK_TITLES[run['task']]}, ε = {run['eps']:g}")
    axes[0][0].set_ylabel(r"suboptimality $\mu_0\cdot(V^* - V^{\pi_k})$")
    axes[0][0].legend(loc="upper right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def c53_table(c53: Mapping[str, Any]) -> str:
    """Final median suboptimality per task and learner, and at how many updates NPG's and damped soft-Q's seed bands overlap."""
    lines = [f"{'task':<34} {'NPG':>9} {'damped':>9} {'PG':>9} {'undamped':>9}   {'bands overlap':>13}"]
    for key, run in _c53_panels(c53):
        f = run["final"]
        overlap = run["npg_vs_damped"]["overlap"]
        name = f"{TASK_TITLES[run['task']]}, eps={run['eps']:g}"
        lines.append(f"{name:<34} {f['npg']:>9.4f} {f['damped']:>9.4f} {f['pg']:>9.4f} {f['undamped']:>9.4f}   "
                     f"{100 * overlap:>12.0f}%")
    return "\n".join(lines)


# -- C5.4 -------------------------------------------------------------------------
def c54_figure(results: Mapping[str, Any], *, title: str = "") -> Figure:
    """Left: a few MDPs' ‖Q* − Q^(t)‖∞ with their bounds. Right: all MDPs, normalized, against the bound e^{−u}."""
    _style()
    fractions = results["c54_eta_fractions"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    examples = [e for e in results["c54_examples"] if e["mdp"] == 0]
    for j, e in enumerate(examples):
        t = np.arange(1, len(e["q_error"]) + 1)
        ax.semilogy(t, np.maximum(e["q_error"], 1e-16), color=f"C{j}", label=f"η = {e['fraction']:g}·(1−γ)/τ")
        ax.semilogy(t, e["q_bound"], color=f"C{j}", ls="--", lw=1)
    ax.plot([], [], "k--", lw=1, label="Theorem 5.1's bound")
    e0 = examples[0]
    ax.set(xlabel="iteration t", ylabel=r"$\|Q^* - Q^{(t)}\|_\infty$", ylim=(1e-15, None),
           title=f"one MDP (γ = {e0['gamma']:.2f}, τ = {e0['tau']:.2f})")
    ax.legend(fontsize=7)
    ax = axes[1]
    u = np.array(results["c54_bin_centres"])
    for j, f in enumerate(fractions):
        y = np.array(results["c54_bins_q"][j])
        ok = np.isfinite(y)
        ax.semilogy(u[ok], np.exp(y[ok]), "o-", ms=3, color=f"C{j}", label=f"largest, η = {f:g}·(1−γ)/τ")
    ax.semilogy(u, np.exp(-u), "k--", lw=1.2, label=r"bound $e^{-u}$")
    ax.set(xlabel=r"$u = -t \log(1 - \eta\tau)$",
           ylabel=r"$\|Q^* - Q^{(t+1)}\|_\infty / (C_1\gamma)$",
           title=f"all {results['c54_mdps']} MDPs, every η")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def c54_table(results: Mapping[str, Any]) -> str:
    """Per step size: the largest measured/bound ratios and the identity with damped soft Q-iteration."""
    lines = [f"{'eta / ((1-gamma)/tau)':>22} {'max Q ratio':>12} {'max log-pi ratio':>17} {'damped soft-Q vs NPG':>21}"]
    for f, q, lp, dd in zip(results["c54_eta_fractions"], results["c54_max_q_ratio"], results["c54_max_log_pi_ratio"],
                            results["c54_damped_max_diff"]):
        lines.append(f"{f:>22g} {q:>12.3f} {lp:>17.3f} {dd:>21.1e}")
    return "\n".join(lines)


def comparison_table(quick: Mapping[str, Any], full: Mapping[str, Any]) -> str:
    """The headline numbers of the quick and the full run side by side."""
    def slope(r, key):
        return r[key]["median"]

    rows = [
        ("C5.1 MDPs per parametrization", lambda r: r["c51_mdps"], "d"),
        ("C5.1 tabular: lstsq vs F^+ g", lambda r: r["c51_tab_lstsq_vs_pinv"], ".1e"),
        ("C5.1 network: lstsq vs F^+ g", lambda r: r["c51_net_lstsq_vs_pinv"], ".1e"),
        ("C5.1 network: CG vs F^+ g", lambda r: r["c51_net_cg_vs_pinv"], ".1e"),
        ("C5.2 MDPs", lambda r: r["c52_mdps"], "d"),
        ("C5.2 slope, damped, table", lambda r: slope(r, "c52_tab_damped_slope"), ".2f"),
        ("C5.2 slope, damped, network", lambda r: slope(r, "c52_net_damped_slope"), ".2f"),
        ("C5.2 slope, undamped, network", lambda r: slope(r, "c52_net_undamped_slope"), ".2f"),
        ("C5.4 MDPs", lambda r: r["c54_mdps"], "d"),
        ("C5.4 largest ||Q*-Q|| / bound", lambda r: max(r["c54_max_q_ratio"]), ".3f"),
        ("C5.4 largest ||log pi*-log pi|| / bound", lambda r: max(r["c54_max_log_pi_ratio"]), ".3f"),
        ("C5.4 NPG vs soft policy iteration", lambda r: r["c54_spi_max_diff"], ".1e"),
    ]
    lines = [f"{'':42} {'quick':>10} {'full':>10}"]
    for label, get, fmt in rows:
        lines.append(f"{label:42} {format(get(quick), fmt):>10} {format(get(full), fmt):>10}")
    return "\n".join(lines)
