"""Plots, tables and bookkeeping for chapter 4's page (plumbing; the experiments live in the package).

Everything here reads results (the quick run the page executes, and full-preset
runs committed under ``data/results/<name>/``, in sub-folders when a grid was
run in parts) and turns them into figures, text tables and the list of runs
of the full presets that are still missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from maxentrl.envs import frames_per_step
from maxentrl.experiments.harness import RunResult, load_result
from maxentrl.figures import device_label

__all__ = [
    "PAPER_FRAMES",
    "text_table",
    "plot_estimators",
    "plot_learning",
    "plot_dqn",
    "final_stats",
    "run_tag",
    "soft_target_verdict",
    "a2c_verdict",
    "committed_runs",
    "coverage_rows",
    "budget_rows",
    "benchmark_rows",
]

PAPER_FRAMES = {"fig1": 320_000_000, "fig2": 40_000_000, "fig3": 40_000_000}
"""Frames per run in Schulman et al. (2017): Fig. 1 (naive vs proper A2C), Figs. 2-3 (DQN; PG vs soft Q)."""

_STYLE = {
    "naive": ("tab:red", "A2C, naive bonus (eq. 79)"),
    "proper": ("tab:blue", "A2C, proper bonus (eq. 80)"),
    "soft_q": ("tab:green", "soft Q-learning, Q = V + tau log pi (sec. 6.3)"),
    "soft_q_unscaled": ("tab:olive", "soft Q-learning, unscaled (c = 1/tau)"),
}
_DQN_COLORS = ["black", "tab:gray", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:cyan", "tab:olive"]


def text_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """A fixed-width table: ``columns`` are (key, header, format spec); ``None`` prints as a dash."""
    widths = []
    cells = []
    for key, header, fmt in columns:
        col = [header] + ["–" if r.get(key) is None else format(r[key], fmt) for r in rows]
        widths.append(max(len(c) for c in col))
        cells.append(col)
    lines = []
    for i in range(len(rows) + 1):
        lines.append("  ".join(cells[j][i].rjust(widths[j]) if j else cells[j][i].ljust(widths[j])
                               for j in range(len(columns))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot_estimators(results: dict) -> Figure:
    """C4.2: root-mean-square error of both sampled estimators of eq. 65 against N, with √(tr Σ / N)."""
    rows = results["c42_sampling_table"]
    taus = sorted({r["tau"] for r in rows})
    fig, axes = plt.subplots(1, len(taus), figsize=(5.2 * len(taus), 3.8), squeeze=False)
    for ax, tau in zip(axes[0], taus):
        for name, color, marker, label in (("soft_q", "tab:green", "o", "soft Q-learning: grad of 1/2 (Q - y)^2"),
                                           ("policy_gradient", "tab:blue", "s", "policy gradient + value error")):
            sub = [r for r in rows if r["tau"] == tau and r["estimator"] == name]
            N = [r["N"] for r in sub]
            ax.loglog(N, [r["rms_error"] for r in sub], marker, color=color, mfc="none", ms=8, label=label)
            ax.loglog(N, [r["predicted_rms_error"] for r in sub], "-", color=color, lw=1, alpha=0.7)
        ax.set(xlabel="N, sampled paths per estimate", ylabel="RMS error of the mean gradient",
               title=f"tau = {tau:g} (lines: sqrt(tr Cov / N))")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _band(curves: list[list[float | None]]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.array([[np.nan if x is None else x for x in c] for c in curves], dtype=float)
    mean = np.full(arr.shape[1], np.nan)
    std = np.full(arr.shape[1], np.nan)
    for j in range(arr.shape[1]):
        col = arr[:, j][np.isfinite(arr[:, j])]
        if col.size:
            mean[j], std[j] = col.mean(), col.std()
    return mean, std


def _unit(steps: Sequence[int], per_step: int, what: str) -> tuple[float, str]:
    """Scale and axis label for a curve's x axis: thousands or millions of agent steps (or frames)."""
    top = max(steps) * per_step if steps else 0
    if top >= 1e6:
        return per_step / 1e6, f"{what} (millions)"
    return per_step / 1e3, f"{what} (thousands)"


def _curves(ax, steps: Sequence[int], curves: dict, labels: Sequence[str], styles: dict, scale: float,
            random: float | None, linestyle: str = "-", suffix: str = "") -> None:
    x = np.asarray(steps, dtype=float) * scale
    for label in labels:
        if label not in curves:
            continue
        color, name = styles[label]
        mean, std = _band(curves[label])
        ax.plot(x, mean, linestyle, color=color, label=name + suffix)
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.15 if linestyle == "-" else 0.07)
    if random is not None:
        ax.axhline(random, color="gray", lw=0.8, ls=":", label="uniformly random policy")


def plot_learning(runs: Sequence[tuple[str, RunResult]], *, games: Sequence[str] | None = None) -> Figure:
    """C4.3 and C4.4: per run and game, (a) proper A2C vs soft Q-learning, (b) naive vs proper A2C.

    ``runs``: (tag for the titles, result) pairs; lines are means over seeds, bands one standard deviation.
    """
    panels = []
    for tag, run in runs:
        for game, part in run.results["grid"].items():
            if "a2c" in part and (games is None or game in games):
                panels.append((tag, run, game, part))
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for row, (tag, run, game, part) in zip(axes, panels):
        a2c = part["a2c"]
        scale, unit = _unit(a2c["curve_steps"], frames_per_step(game),
                            "frames" if frames_per_step(game) > 1 else "agent steps")
        seeds = len(next(iter(a2c["curves"].values())))
        random = part["random"]["mean"]
        _curves(row[0], a2c["curve_steps"], a2c["curves"], ["proper", "soft_q"], _STYLE, scale, random)
        _curves(row[1], a2c["curve_steps"], a2c["curves"], ["naive", "proper"], _STYLE, scale, random)
        row[0].set(xlabel=unit, ylabel="game score")
        row[1].set(xlabel=unit, ylabel="game score")
        row[0].set_title(f"{game}, {seeds} seeds: policy gradient vs soft Q\n{tag}", fontsize=9)
        row[1].set_title(f"{game}, {seeds} seeds: naive vs proper bonus\n{tag}", fontsize=9)
        for ax in row:
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_dqn(runs: Sequence[tuple[str, RunResult]]) -> Figure:
    """C4.5: the DQN targets of eqs. 81-83 per run and game (Fig. 2's lines); mean ± one std over seeds."""
    panels = [(tag, run, game, part) for tag, run in runs for game, part in run.results["grid"].items() if "dqn" in part]
    cols = min(2, len(panels))
    rows_n = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(6.2 * cols, 4.0 * rows_n), squeeze=False)
    for ax, (tag, run, game, part) in zip(axes.flat, panels):
        dqn = part["dqn"]
        labels = list(dqn["curves"])
        styles = {label: (_DQN_COLORS[i % len(_DQN_COLORS)], label) for i, label in enumerate(labels)}
        seeds = len(dqn["curves"][labels[0]])
        scale, unit = _unit(dqn["curve_steps"], 1, "agent steps")
        _curves(ax, dqn["curve_steps"], dqn["curves"], labels, styles, scale, part["random"]["mean"])
        ax.set(xlabel=unit, ylabel="game score")
        ax.set_title(f"{game}, {seeds} seeds: DQN targets\n{tag}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def run_tag(folder: str, run: RunResult) -> str:
    """A short label of a committed run: its folder, device and commit."""
    p = run.provenance
    return f"{folder}; {device_label(p, run.config)}, commit {str(p.get('git_commit', '?'))[:8]}"


def final_stats(summary: dict, game: str, key: str) -> tuple[float, float, float, int]:
    """(mean, std, standard error, seeds) of the final scores of ``key`` (e.g. ``"a2c:proper"``) on ``game``."""
    finals = [f for f in summary[game][key]["finals"] if f is not None]
    n = len(finals)
    mean = float(np.mean(finals))
    std = float(np.std(finals, ddof=1)) if n > 1 else float("nan")
    return mean, std, std / math.sqrt(n) if n > 1 else float("nan"), n


def a2c_verdict(summary: dict, game: str, steps: int) -> str:
    """C4.3 and C4.4 in words for one game of a run: final scores and the differences in standard errors."""
    st = {k: final_stats(summary, game, f"a2c:{k}") for k in ("naive", "proper", "soft_q")
          if f"a2c:{k}" in summary[game]}
    text = [f"{game}, {steps:,} agent steps per run, {st['proper'][3]} seeds: final scores "
            + ", ".join(f"{name} {m:.2f} ± {sd:.2f}" for name, (m, sd, _, _) in st.items())
            + f" (random policy {summary[game]['random']:.2f})."]
    for a, b, what in (("soft_q", "proper", "soft Q-learning minus proper A2C"),
                       ("proper", "naive", "proper minus naive A2C")):
        if a in st and b in st:
            z = (st[a][0] - st[b][0]) / math.hypot(st[a][2], st[b][2])
            text.append(f"{what}: {st[a][0] - st[b][0]:+.2f}, {z:+.1f} standard errors.")
    return " ".join(text)


def soft_target_verdict(summary: dict, game: str, taus: Sequence[float]) -> str:
    """A sentence per τ comparing the entropy-bonus and KL soft DQN targets' final scores (C4.5), for the page."""
    parts = []
    for tau in taus:
        ent = final_stats(summary, game, f"dqn:soft (ent), tau={tau:g}")
        kl = final_stats(summary, game, f"dqn:soft (KL), tau={tau:g}")
        diff = ent[0] - kl[0]
        z = diff / math.hypot(ent[2], kl[2])
        side = "above" if diff > 0 else "below"
        if abs(z) < 2:
            noise = "within the noise of this many seeds"
        elif abs(z) < 3:
            noise = "suggestive, but not conclusive with this few seeds"
        else:
            noise = "a difference the seeds resolve"
        parts.append(f"At τ = {tau:g} the entropy-bonus target ends {side} the KL target by {abs(diff):.0f} points, "
                     f"{abs(z):.1f} standard errors of the difference: {noise}.")
    top = max(taus)
    ent = final_stats(summary, game, f"dqn:soft (ent), tau={top:g}")[0]
    kl = final_stats(summary, game, f"dqn:soft (KL), tau={top:g}")[0]
    seen = "is seen here" if ent > kl else "is not seen here"
    parts.append(f"The paper's ordering at τ = {top:g} (entropy target above the KL target) {seen}.")
    return " ".join(parts)


# -- committed full runs and what is missing ------------------------------------------------
def committed_runs(name: str, root: Path) -> list[tuple[str, RunResult]]:
    """Every full-preset result of ``name`` under ``root/<name>/`` (sub-folders included), with its folder."""
    base = root / name
    out = []
    if not base.is_dir():
        return out
    for path in sorted(base.rglob(f"{name}_full_seed*.json")):
        if path.name.endswith(".provenance.json"):
            continue
        out.append((str(path.parent.relative_to(base)) or ".", load_result(path)))
    return out


def _wanted(config: dict) -> list[dict]:
    """The cells of a preset's grid: (game, algorithm, variant) with the seeds and steps it asks for."""
    from maxentrl.experiments.ch04_pg_soft_q import Ch04Config, dqn_variants

    cells = []
    for game in config["games"]:
        if config["a2c"]:
            for v in config["a2c_variants"]:
                cells.append({"game": game, "algorithm": "A2C", "variant": v, "seeds": config["seeds"],
                              "steps": config["a2c_steps"]})
        if config["dqn"]:
            cfg = Ch04Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
            for v in dqn_variants(cfg):
                cells.append({"game": game, "algorithm": "DQN", "variant": v.label, "seeds": config["seeds"],
                              "steps": config["dqn_steps"]})
    return cells


def coverage_rows(full_config: dict, runs: Sequence[tuple[str, RunResult]]) -> list[dict]:
    """For every cell of the full preset's grid: the seeds and steps the committed runs hold, and what is missing."""
    done: dict[tuple[str, str, str], tuple[int, int]] = {}
    for _, run in runs:
        for cell in _wanted(run.config):
            key = (cell["game"], cell["algorithm"], cell["variant"])
            seeds, steps = done.get(key, (0, 0))
            if (cell["steps"], cell["seeds"]) > (steps, seeds):
                done[key] = (cell["seeds"], cell["steps"])
    rows = []
    for cell in _wanted(full_config):
        seeds, steps = done.get((cell["game"], cell["algorithm"], cell["variant"]), (0, 0))
        if seeds >= cell["seeds"] and steps >= cell["steps"]:
            status = "done"
        elif seeds or steps:
            status = "partial"
        else:
            status = "missing"
        rows.append({**cell, "seeds_done": seeds, "steps_done": steps, "status": status})
    return rows


def budget_rows(presets: Sequence[tuple[str, dict]]) -> list[dict]:
    """Frames per run of each preset's games and algorithms, against the paper's 40M (Figs. 2-3) and 320M (Fig. 1)."""
    rows = []
    for label, config in presets:
        for game in config["games"]:
            fps = frames_per_step(game)
            if config["a2c"]:
                frames = config["a2c_steps"] * fps
                rows.append({"preset": label, "game": game, "algorithm": "A2C / soft Q", "frames": frames,
                             "of_fig3": frames / PAPER_FRAMES["fig3"], "of_fig1": frames / PAPER_FRAMES["fig1"],
                             "seeds": config["seeds"]})
            if config["dqn"]:
                frames = config["dqn_steps"] * fps
                rows.append({"preset": label, "game": game, "algorithm": "DQN", "frames": frames,
                             "of_fig3": frames / PAPER_FRAMES["fig2"], "of_fig1": None, "seeds": config["seeds"]})
    return rows


def benchmark_rows(path: Path) -> tuple[list[dict], dict] | None:
    """Rows of ``data/benchmarks/a2c_throughput.json`` with the time split in percent, and its provenance."""
    if not path.is_file():
        return None
    bench = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for r in bench["rows"]:
        total = r["wall_s"]
        row = {"game": r["game"], "members": r["members"], "envs": r["envs_per_member"],
               "steps_per_s": r["agent_steps_per_s"], "frames_per_s": r["frames_per_s"]}
        for part in ("env", "forward", "backward", "optimizer"):
            row[f"{part}_pct"] = 100 * r["seconds"].get(part, 0.0) / total
        row["other_pct"] = 100 * r["other_s"] / total
        rows.append(row)
    return rows, bench["provenance"]
