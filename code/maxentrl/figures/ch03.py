"""Figures and tables of chapter 3, drawn from an experiment's results (a ``RunResult.results`` dict).

Each function returns a matplotlib ``Figure`` (the chapter glues it) or plain
data; none runs an experiment.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from maxentrl.envs.multigoal import GOALS, spec_from
from maxentrl.figures import device_label

__all__ = [
    "svgd_1d_figure",
    "amortized_figure",
    "multigoal_figure",
    "goal_histogram_figure",
    "swimmer_figure",
    "scaling_figure",
    "goal_table",
    "swimmer_table",
    "preset_budget_sentence",
    "preset_budget_to_run",
    "preset_budget_caption",
    "PAPER_SWIMMER",
]

GOAL_NAMES = ("east", "west", "north", "south")
COLORS = {"sql": "C0", "ddpg": "C3"}
LABELS = {"sql": "soft Q-learning", "ddpg": "DDPG"}

PAPER_SWIMMER = {"epochs": 500, "epoch_steps": 10_000, "sql_crossed": 100, "ddpg_crossed": 80}
"""Haarnoja et al. (2017) on the swimmer: 500 epochs of 10,000 steps (App. D), and the percentage of seeds of
each method that crossed the finish line (§5.2)."""


def _mixture_1d(x: np.ndarray) -> np.ndarray:
    return (np.exp(-0.5 * (x + 2) ** 2) / 3 + 2 * np.exp(-0.5 * (x - 2) ** 2) / 3) / math.sqrt(2 * math.pi)


def svgd_1d_figure(R: dict[str, Any]) -> Figure:
    """C3.1: particles at several iterations with and without the repulsive term, against the target density."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    grid = np.linspace(-13, 6, 400)
    for ax, name, title in zip(axes, ("svgd", "no_repulsion"), ("SVGD (eq. 13)", "without the repulsive term")):
        shots = R[f"c31_{name}_snapshots"]
        its = sorted(shots, key=int)
        for k, it in enumerate(its):
            x = np.asarray(shots[it])
            last = k == len(its) - 1
            ax.hist(x, bins=np.linspace(-13, 6, 77), density=True, histtype="stepfilled" if last else "step",
                    alpha=0.45 if last else 0.9, color="C0" if last else plt.cm.Greys(0.35 + 0.5 * k / len(its)),
                    label=f"iteration {it}")
        ax.plot(grid, _mixture_1d(grid), "k--", lw=1.2, label=r"target $\frac{1}{3}\mathcal{N}(-2,1)+\frac{2}{3}\mathcal{N}(2,1)$")
        ax.set(title=title, xlabel="$x$", xlim=(-13, 6))
    axes[0].set_ylabel("density of particles")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def amortized_figure(R: dict[str, Any]) -> Figure:
    """C3.2: samples of the amortized sampler, trained with and without the repulsive term, on the 2-D mixture."""
    w, mu, s = np.asarray(R["c32_weights"]), np.asarray(R["c32_means"]), R["c32_std"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 1, 1.2]})
    g = np.linspace(-3.5, 3.5, 200)
    X, Y = np.meshgrid(g, g)
    dens = sum(wi * np.exp(-((X - m[0]) ** 2 + (Y - m[1]) ** 2) / (2 * s * s)) for wi, m in zip(w, mu))
    for ax, name, title in zip(axes[:2], ("svgd", "no_repulsion"), ("amortized SVGD (eq. 14)", "without the repulsive term")):
        ax.contour(X, Y, dens, levels=8, colors="k", linewidths=0.5, alpha=0.5)
        pts = np.asarray(R[f"c32_{name}_samples"])
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.3, color="C0")
        ax.set(title=title, aspect="equal", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), xticks=[], yticks=[])
    ax = axes[2]
    idx = np.arange(len(w))
    ax.bar(idx - 0.27, w, 0.27, color="0.6", label="target weight")
    ax.bar(idx, R["c32_svgd_fractions"], 0.27, color="C0", label="amortized SVGD")
    ax.bar(idx + 0.27, R["c32_no_repulsion_fractions"], 0.27, color="C3", label="no repulsion")
    ax.set(xlabel="mode", ylabel="share of samples", xticks=idx, title="mass per mode")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _reward_contours(ax, variant: str) -> None:
    spec = spec_from(variant)
    g = np.linspace(-7, 7, 141)
    X, Y = np.meshgrid(g, g)
    d2 = np.min([(X - gx) ** 2 + (Y - gy) ** 2 for gx, gy in GOALS], axis=0)
    if variant == "code":
        Z = -spec.distance_cost * d2
    else:
        Z = sum(spec.goal_reward * np.exp(-((X - gx) ** 2 + (Y - gy) ** 2) / (2 * spec.goal_width**2)) for gx, gy in GOALS)
    ax.contour(X, Y, Z, levels=12, colors="0.6", linewidths=0.6)
    ax.plot(*np.asarray(GOALS).T, "o", color="C3", ms=7)


def multigoal_figure(R: dict[str, Any], *, variant: str = "code") -> Figure:
    """Figure 1 of the paper: trajectories of both methods (left) and Q over actions with policy samples at three states."""
    fig = plt.figure(figsize=(13, 6.4))
    gs = fig.add_gridspec(2, 4, width_ratios=[1.35, 1, 1, 1])
    for row, method in enumerate(("sql", "ddpg")):
        ax = fig.add_subplot(gs[row, 0])
        _reward_contours(ax, variant)
        for tr in R[f"c33_{method}_trajectories"][variant]:
            tr = np.asarray(tr)
            ax.plot(tr[:, 0], tr[:, 1], color=COLORS[method], lw=0.8, alpha=0.7)
        ax.set(aspect="equal", xlim=(-7, 7), ylim=(-7, 7), title=f"{LABELS[method]}: trajectories (seed 0)")
        ax.set_xlabel("$x$", labelpad=0)
        ax.set_ylabel("$y$", labelpad=0)
        land = R[f"c33_{method}_q"][variant]
        a = np.asarray(land["grid"])
        Q = np.asarray(land["Q"])
        acts = np.asarray(land["actions"])
        from maxentrl.experiments.ch03_soft_q_learning import Q_STATES

        for k, state in enumerate(Q_STATES):
            ax = fig.add_subplot(gs[row, k + 1])
            ax.contourf(a, a, Q[k], levels=20, cmap="coolwarm")
            ax.contour(a, a, Q[k], levels=20, colors="k", linewidths=0.3, alpha=0.4)
            ax.plot(acts[k, :, 0], acts[k, :, 1], "*", color="C0" if method == "sql" else "k", ms=4)
            ax.set(aspect="equal", xlim=(-1, 1), ylim=(-1, 1), title=f"Q(s, ·) at s = ({state[0]:g}, {state[1]:g})")
            ax.set_xlabel("$a_x$", labelpad=0)
            ax.set_ylabel("$a_y$", labelpad=0)
    fig.tight_layout()
    return fig


def goal_table(R: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (method, version, seed): rollouts that reached each goal."""
    return [*R["c33_sql_table"], *R["c33_ddpg_table"]]


def goal_histogram_figure(R: dict[str, Any]) -> Figure:
    """Per-seed goal histograms: how many of the evaluation rollouts of each seed reached each goal."""
    rows = goal_table(R)
    variants = sorted({r["variant"] for r in rows}, key=lambda v: v != "code")
    fig, axes = plt.subplots(len(variants), 2, figsize=(11, 2.9 * len(variants)), squeeze=False, sharey=True)
    for i, variant in enumerate(variants):
        for j, method in enumerate(("sql", "ddpg")):
            ax = axes[i, j]
            mine = [r for r in rows if r["variant"] == variant and r["method"] == method]
            n = len(mine)
            width = 0.8 / 5
            for g in range(5):
                key = f"goal{g}" if g < 4 else "none"
                vals = [r[key] for r in mine]
                ax.bar(np.arange(n) + (g - 2) * width, vals, width, label=GOAL_NAMES[g] if g < 4 else "no goal",
                       color=f"C{g + 4}" if g < 4 else "0.75")
            total = sum(mine[0][f"goal{g}"] for g in range(4)) + mine[0]["none"]
            ax.axhline(0.1 * total, color="k", ls=":", lw=1)
            ax.set(xticks=np.arange(n), xticklabels=[f"seed {r['seed']}" for r in mine],
                   title=f"{LABELS[method]}, {'public code' if variant == 'code' else 'paper'}'s task")
            if j == 0:
                ax.set_ylabel("rollouts")
    axes[0, 1].legend(fontsize=7, ncol=5, loc="upper right")
    fig.tight_layout()
    return fig


def swimmer_table(R: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (method, seed): farthest forward position reached in training, crossing, final policy's direction."""
    return [*R["c34_sql_table"], *R["c34_ddpg_table"]]


def swimmer_figure(R: dict[str, Any], *, finish: float, title: str, steps: int | None = None) -> Figure:
    """Forward distance by seed (the paper's Figures 3a and 6): per episode, the band between the farthest backward
    and farthest forward positions, against environment steps, one row of panels per method (the methods of ``R``
    that have a ``c34_<method>_episodes`` entry; a stage still in training has no final policy to title a panel).
    ``steps``, when given, fixes the step axis at ``[0, steps]`` (a run's budget, so a run in progress shows how far
    it has got)."""
    methods = [m for m in ("sql", "ddpg") if f"c34_{m}_episodes" in R]
    seeds = sorted({int(r["seed"]) for m in methods for r in R[f"c34_{m}_table"]})
    fig, axes = plt.subplots(len(methods), len(seeds), figsize=(1.6 * len(seeds) + 1, 2.3 * len(methods)),
                             sharex=True, sharey=True, squeeze=False)
    for row, method in enumerate(methods):
        ep = np.asarray(R[f"c34_{method}_episodes"], dtype=float)
        table = {r["seed"]: r for r in R[f"c34_{method}_table"]}
        for col, m in enumerate(seeds):
            ax = axes[row, col]
            e = ep[ep[:, 1] == m]
            ax.fill_between(e[:, 0], e[:, 3], e[:, 2], color=COLORS[method], alpha=0.35, lw=0)
            ax.plot(e[:, 0], e[:, 2], color=COLORS[method], lw=0.6)
            ax.axhline(finish, color="r", lw=1)
            ax.axhline(0, color="k", lw=0.4)
            if "final_mean_x" in table[m]:  # a finished stage: where its final policy's episodes end
                end = "forward" if table[m]["final_mean_x"] > 0 else "backward"
                ax.set_title(f"seed {m}: ends {end}", fontsize=7)
            else:  # a stage still in training
                ax.set_title(f"seed {m}", fontsize=7)
            ax.tick_params(labelsize=6)
        axes[row, 0].set_ylabel(f"{LABELS[method]}\nposition", fontsize=8)
        crossed = R[f"c34_{method}_crossed_fraction"]
        so_far = "" if all("final_mean_x" in r for r in table.values()) else " so far"
        axes[row, -1].text(1.02, 0.5, f"{100 * crossed:.0f}% cross{so_far}", transform=axes[row, -1].transAxes,
                           rotation=90, va="center", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("steps", fontsize=7)
        if steps is not None:
            ax.set_xlim(0, steps)
            ax.set_xticks([0, steps / 2, steps], [f"{v / 1000:g}k" if v else "0" for v in (0, steps / 2, steps)])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def preset_budget_sentence(status: dict[str, Any] | None) -> str:
    """What the run of the swimmer stages at the ``full`` preset's budget has done and what is still to run, from
    :func:`maxentrl.experiments.ch03_soft_q_learning.preset_budget_status`."""
    if status is None:
        return "No run of the swimmer stages at the preset's budget is committed yet."
    cfg, prov = status["config"], status["provenance"]
    total, finish = int(cfg["c34_steps"]), cfg["c34_finish"]
    parts = []
    for method in ("sql", "ddpg"):
        mine = status["methods"].get(method)
        if mine is None:
            parts.append(f"{LABELS[method]} has not started")
            continue
        rows = mine["results"][f"c34_{method}_table"]
        crossed = sum(r["crossed"] for r in rows)
        far = max(r["max_forward"] for r in rows)
        seen = f"{crossed} of {len(rows)} seeds crossed the line at {finish:g}, and the farthest forward any training episode reached is {far:.2f}"
        hours = mine["elapsed_s"] / 3600
        if mine["finished"]:
            parts.append(f"{LABELS[method]} has finished its {total:,} steps per seed in {hours:.1f} hours: {seen}")
        else:
            steps, warm = mine["steps"], int(cfg.get("c34_min_replay", 0))
            pace = (f", and at its pace after the first {warm:,} (which only fill the replay memory) the whole stage "
                    f"takes about {mine['elapsed_s'] * (total - warm) / (steps - warm) / 3600:.1f} hours"
                    if steps > warm else "")
            parts.append(f"{LABELS[method]} stopped after {steps:,} of its {total:,} steps per seed, {hours:.1f} hours "
                         f"in{pace}; by then {seen}")
    said = "; ".join(parts)
    before = ""
    for old in status.get("superseded", []):
        seen = (f" ({old['crossed']} of {old['seeds']} seeds across the line, the farthest forward "
                f"{old['max_forward']:.2f})" if "crossed" in old else "")
        before += (f" An earlier run of the stage {old['stage']}, at commit {', '.join(c[:12] for c in old['commits'])}, "
                   f"had reached {old['steps']:,} steps per seed in {old['elapsed_s'] / 3600:.1f} hours{seen} when "
                   "its checkpoint was lost; the run above started it again from step 0.")
    devices = device_label(prov, cfg).split("; ")
    commits = f"at commit{'s' if len(prov['commits']) > 1 else ''} {', '.join(c[:12] for c in prov['commits'])}"
    where = (f"It ran on {devices[0]}, one process per method, {commits}. " if len(devices) == 1 else
             f"Its processes ran on {' and '.join(devices)}, {commits}. ")
    return where + said[0].upper() + said[1:] + "." + before


def preset_budget_caption(status: dict[str, Any] | None) -> str:
    """How far the run of the swimmer stages at the ``full`` preset's budget got, for its figure's caption."""
    if status and all(status["methods"].get(m, {}).get("finished", False) for m in ("sql", "ddpg")):
        return "with both stages run to their end and their final policies evaluated"
    return "as far as it got (a stage stopped in training has no final policy, so its panels name only the seed)"


def preset_budget_to_run(status: dict[str, Any] | None) -> str:
    """A sentence on what of the swimmer stages at the ``full`` preset's budget is still to run, from
    :func:`maxentrl.experiments.ch03_soft_q_learning.preset_budget_status`."""
    if status is None:
        return "At the preset's budget, both swimmer stages are still to run."
    todo = [LABELS[m] for m in ("sql", "ddpg") if not status["methods"].get(m, {}).get("finished", False)]
    if not todo:
        tables = {m: status["methods"][m]["results"][f"c34_{m}_table"] for m in ("sql", "ddpg")}
        crossed = {m: [r["crossed"] for r in rows] for m, rows in tables.items()}
        said = " and ".join(f"{sum(c)} of {len(c)} {LABELS[m]} seeds ({100 * sum(c) / len(c):.0f}%)"
                            for m, c in crossed.items())
        holds = all(crossed["sql"]) and not all(crossed["ddpg"])
        verdict = ("so C3.4 holds at this budget" if holds else "so C3.4 does not reproduce at this budget either"
                   if not any(crossed["sql"]) else "so C3.4 holds only in part at this budget")
        P = PAPER_SWIMMER
        out = (f"At the preset's budget, both swimmer stages have run to their end: {said} crossed the line, "
               f"against the paper's {P['sql_crossed']}% and {P['ddpg_crossed']}% after {P['epochs']} epochs of "
               f"{P['epoch_steps']:,} steps ({P['epochs'] * P['epoch_steps']:,} steps), {verdict}.")
        if all("final_mean_x" in r for rows in tables.values() for r in rows):
            share = {m: 100 * float(np.mean([r["final_forward_share"] for r in rows])) for m, rows in tables.items()}
            mean_x = {m: float(np.mean([r["final_mean_x"] for r in rows])) for m, rows in tables.items()}
            out += (f" The final policies end {share['sql']:.0f}% ({LABELS['sql']}) and {share['ddpg']:.0f}% "
                    f"({LABELS['ddpg']}) of their evaluation rollouts ahead of the start, on average at "
                    f"x = {mean_x['sql']:.2f} and {mean_x['ddpg']:.2f}, against the line at "
                    f"{status['config']['c34_finish']:g}.")
        return out
    seeds = int(status["config"]["c34_seeds"])
    return (f"At the preset's budget, {' and '.join(todo)} {'is' if len(todo) == 1 else 'are'} still to run to the end. "
            f"A run resumes from its checkpoint, but that holds {seeds} replay memories (one per seed), too large to "
            "commit, so a machine that does not keep it starts the stage again from step 0.")


def scaling_figure(bench: dict[str, Any]) -> Figure:
    """Updates per second (summed over seeds) against the number of seeds trained in one process."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for method in ("sql", "ddpg"):
        rows = [r for r in bench["rows"] if r["method"] == method]
        E = np.array([r["seeds"] for r in rows])
        ups = np.array([r["member_updates_per_s"] for r in rows])
        t = np.array([r["ms_per_step"] for r in rows])
        axes[0].loglog(E, ups, "o-", color=COLORS[method], label=LABELS[method])
        axes[0].loglog(E, ups[0] * E / E[0], ":", color=COLORS[method], lw=1)
        axes[1].semilogx(E, t / t[0], "o-", color=COLORS[method], label=LABELS[method])
    axes[1].semilogx(E, E / E[0], "k:", lw=1, label="linear cost")
    axes[0].set(xlabel="seeds in one process", ylabel="seed-updates per second", title="throughput (dotted: linear)")
    axes[1].set(xlabel="seeds in one process", ylabel="time per step / time with one seed", title="cost of adding seeds",
                yscale="log")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
