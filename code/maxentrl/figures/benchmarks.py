"""The benchmarks appendix: read the committed ``data/benchmarks/*.json``, plot them, and say where they came from.

The scripts in ``benchmarks/`` write these files (with provenance); the book
only reads them. Chapters quote a few numbers through the ``*_summary``
functions; the appendix plots everything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from maxentrl.figures import describe_provenance, new_figure
from maxentrl.paths import data_dir

__all__ = [
    "load_benchmark",
    "maxent_irl_figure",
    "maxent_irl_summary",
    "maxent_irl_table",
    "provenance_sentence",
    "soft_value_iteration_figure",
    "soft_value_iteration_summary",
    "soft_value_iteration_table",
]


def load_benchmark(name: str, *, root: Path | None = None) -> dict[str, Any] | None:
    """``data/benchmarks/<name>.json`` as a dict, or ``None`` when it is not committed."""
    path = (root if root is not None else data_dir() / "benchmarks") / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def provenance_sentence(bench: Mapping[str, Any], *, page_commit: str | None = None) -> str:
    """Where a benchmark was measured: device and threads, date, commit (and its age), machine load."""
    prov = bench["provenance"]
    text = describe_provenance(prov, page_commit=page_commit)
    extras = []
    if prov.get("threads"):
        extras.append(f"{prov['threads']} torch thread{'s' if prov['threads'] != 1 else ''}")
    if prov.get("torch_version"):
        extras.append(f"torch {prov['torch_version']}")
    load = prov.get("load_average_1min_before_after")
    if load:
        extras.append(f"one-minute load average {load[0]:.2f} before and {load[1]:.2f} after")
    return text + (f" ({', '.join(extras)})" if extras else "")


# -- soft value iteration ----------------------------------------------------------------------
def soft_value_iteration_summary(bench: Mapping[str, Any]) -> dict[str, float]:
    """The numbers a chapter quotes from ``soft_value_iteration.json``.

    Keys: ``bandwidth_gbs`` (the CPU's measured bandwidth, GB/s), ``largest_P_mib``,
    ``largest_fraction`` (of the bandwidth bound, at the largest ``P``),
    ``largest_backups_per_s``, ``bmm_over_mv`` (time of one batched matrix product over one
    matrix-vector product per MDP; NaN when not measured).
    """
    rows = [r for r in bench["rows"] if r["device"] == "cpu"] or list(bench["rows"])
    big = max(rows, key=lambda r: r["P_bytes"])
    bw = bench["bandwidth"].get(big["device"], {})
    cmp = bench.get("bmm_vs_mv")
    return {
        "bandwidth_gbs": bw.get("bound_bytes_per_s", float("nan")) / 1e9,
        "largest_P_mib": big["P_bytes"] / 2**20,
        "largest_fraction": big["fraction_of_bound"],
        "largest_backups_per_s": big["backups_per_s"],
        "bmm_over_mv": cmp["bmm_seconds"] / cmp["mv_seconds"] if cmp else float("nan"),
    }


def soft_value_iteration_figure(bench: Mapping[str, Any]) -> Figure:
    """State–action backups per second against the size of ``P`` (with the bandwidth bound), and the fraction of the bound."""
    prov = bench["provenance"]
    fig, axes = new_figure(1, 2, figsize=(11, 4))
    combos = [(d, t) for d in bench["bandwidth"] for t in ("float32", "float64")]
    for (device, dtype), marker in zip(combos, "osd^"):
        sub = [r for r in bench["rows"] if r["device"] == device and r["dtype"] == dtype]
        if not sub:
            continue
        P_mib = [r["P_bytes"] / 2**20 for r in sub]
        (line,) = axes[0].loglog(P_mib, [r["backups_per_s"] for r in sub], marker, label=f"{device} {dtype}: measured")
        axes[0].loglog(P_mib, [r["bound_backups_per_s"] for r in sub], marker, mfc="none", color=line.get_color(),
                       label=f"{device} {dtype}: bandwidth bound")
        axes[1].semilogx(P_mib, [100 * r["fraction_of_bound"] for r in sub], marker + "-", color=line.get_color(),
                         label=f"{device} {dtype}")
    if prov.get("largest_cpu_cache_bytes"):
        for ax in axes:
            ax.axvline(prov["largest_cpu_cache_bytes"] / 2**20, color="gray", ls=":", label="largest CPU cache")
    axes[0].set(xlabel="size of P (MiB)", ylabel="state-action backups per second", title="batched soft backup")
    axes[1].set(xlabel="size of P (MiB)", ylabel="% of the bandwidth bound", title="fraction of the bound")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def soft_value_iteration_table(bench: Mapping[str, Any]) -> str:
    """Every measured size as a text table, then the measured bandwidths."""
    lines = [f"{'device':>6} {'dtype':>7} {'b':>4} {'S':>5} {'A':>3} {'P MiB':>8} {'backups/s':>10} {'bound':>10} {'of bound':>8}"]
    for r in bench["rows"]:
        lines.append(f"{r['device']:>6} {r['dtype']:>7} {r['b']:>4} {r['S']:>5} {r['A']:>3} {r['P_bytes'] / 2**20:>8.2f} "
                     f"{r['backups_per_s']:>10.2e} {r['bound_backups_per_s']:>10.2e} {100 * r['fraction_of_bound']:>7.0f}%")
    lines.append("")
    for device, bw in bench["bandwidth"].items():
        lines.append(f"{device}: copy {bw['copy_bytes_per_s'] / 1e9:.1f} GB/s (read + write), "
                     f"read {bw['read_bytes_per_s'] / 1e9:.1f} GB/s; {bw['method']}")
    return "\n".join(lines)


# -- Algorithm 1 of maximum-entropy IRL --------------------------------------------------------
def maxent_irl_summary(bench: Mapping[str, Any]) -> dict[str, float]:
    """The numbers a chapter quotes from ``maxent_irl.json`` (the CPU rows, or all rows without any).

    Keys: ``states``, ``actions``, ``horizon`` and ``seconds`` (one full computation) and
    ``sweep_ms`` (one backward plus one forward sweep) at the largest graph;
    ``sweeps_per_s`` there; ``slope``, the fitted log-log slope of the time per sweep
    against the number of states; ``threads``.
    """
    rows = [r for r in bench["rows"] if r["device"] == "cpu"] or list(bench["rows"])
    rows = sorted(rows, key=lambda r: r["states"])
    S = np.array([r["states"] for r in rows], dtype=float)
    sweep = np.array([r["per_sweep_ms"] for r in rows], dtype=float)
    slope = float(np.polyfit(np.log(S), np.log(sweep), 1)[0]) if len(rows) > 1 else float("nan")
    big = rows[-1]
    return {
        "states": int(big["states"]),
        "actions": int(big["actions"]),
        "horizon": int(big["horizon"]),
        "seconds": float(big["best_s"]),
        "sweep_ms": float(big["per_sweep_ms"]),
        "sweeps_per_s": 1000.0 / float(big["per_sweep_ms"]),
        "slope": slope,
        "threads": int(bench["provenance"].get("threads", 0)),
    }


def maxent_irl_figure(bench: Mapping[str, Any]) -> Figure:
    """Time per sweep (left) and per full computation (right) against the number of states, one curve per device."""
    fig, (ax0, ax1) = new_figure(1, 2, figsize=(9, 3.3))
    for dev in sorted({r["device"] for r in bench["rows"]}):
        rs = sorted((r for r in bench["rows"] if r["device"] == dev), key=lambda r: r["states"])
        S = np.array([r["states"] for r in rs])
        ax0.plot(S, [r["per_sweep_ms"] for r in rs], "o-", label=dev)
        ax1.plot(S, [r["best_s"] for r in rs], "o-", label=dev)
    ax0.set(xlabel="states (road segments)", ylabel="ms per backward + forward sweep")
    ax1.set(xlabel="states (road segments)", ylabel="s per computation, N = 2 × side")
    for ax in (ax0, ax1):
        ax.set_xlim(0)
        ax.set_ylim(0)
        ax.legend()
    fig.tight_layout()
    return fig


def maxent_irl_table(bench: Mapping[str, Any]) -> str:
    """Every measured graph as a text table."""
    lines = [f"{'device':>6} {'side':>5} {'states':>8} {'actions':>8} {'N':>5} {'ms/sweep':>9} {'s total':>8}"]
    for r in sorted(bench["rows"], key=lambda r: (r["device"], r["states"])):
        lines.append(f"{r['device']:>6} {r['side']:>5} {r['states']:>8,} {r['actions']:>8,} {r['horizon']:>5} "
                     f"{r['per_sweep_ms']:>9.2f} {r['best_s']:>8.2f}")
    return "\n".join(lines)
