"""The benchmarks appendix: read the committed ``data/benchmarks/*.json``, plot them, and say where they came from.

The scripts in ``benchmarks/`` write these files (with provenance); the book
only reads them. Chapters quote a few numbers through the ``*_summary``
functions; the appendix plots everything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from maxentrl.figures import describe_provenance, device_label, new_figure
from maxentrl.paths import data_dir

__all__ = [
    "load_benchmark",
    "maxent_irl_figure",
    "maxent_irl_rows",
    "maxent_irl_sentences",
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
    if not load and prov.get("load_average_before") and prov.get("load_average_after"):
        load = (prov["load_average_before"][0], prov["load_average_after"][0])
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
_IRL_STYLE = {"shaped": "o-", "shaped-1thread": "o:", "shaped-all-rows": "o-.", "log": "s--"}


def maxent_irl_rows(bench: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``maxent_irl.json`` sorted by device, method and size, each with its ``method`` and ``dtype``.

    Files written before the shaped passes existed time the log-space passes only and name neither; their
    rows get ``method="log"`` and the precision recorded in the provenance.
    """
    dtype = bench["provenance"].get("dtype", "float32")
    rows = [{"method": "log", "dtype": dtype, **r} for r in bench["rows"]]
    return sorted(rows, key=lambda r: (r["device"], r["method"], r["states"]))


def with_gpu_rows(cpu: Mapping[str, Any] | None, gpu: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The CPU benchmark file with the rows of a GPU-only run (``bench_maxent_irl.py --devices cuda``) added.

    The GPU run's provenance and accuracy check stay apart, as ``gpu_provenance`` and ``gpu_accuracy``.
    """
    if cpu is None or gpu is None:
        return None if cpu is None else dict(cpu)
    return {**cpu, "rows": list(cpu["rows"]) + [r for r in gpu["rows"] if r["device"] != "cpu"],
            "gpu_provenance": gpu["provenance"], "gpu_accuracy": gpu.get("accuracy", {})}


def maxent_irl_gpu_sentence(bench: Mapping[str, Any]) -> str:
    """The GPU's times at the largest graph and their accuracy, from :func:`with_gpu_rows`; empty without GPU rows."""
    gpu_rows = [r for r in maxent_irl_rows(bench) if r["device"].startswith("cuda")]
    if not gpu_rows or "gpu_provenance" not in bench:
        return ""
    big = max(r["states"] for r in gpu_rows)
    by_dtype = {r["dtype"]: r for r in gpu_rows if r["states"] == big}
    acc = bench.get("gpu_accuracy", {})
    times = " and ".join(f"{1000 * by_dtype[d]['best_s']:.0f} ms in {d}" for d in sorted(by_dtype))
    errors = ", ".join(
        f"{max(acc[f'cuda_{d}_max_rel_error_D_state'], acc[f'cuda_{d}_max_rel_error_D_action']):.1e} in {d}"
        for d in sorted(by_dtype) if f"cuda_{d}_max_rel_error_D_state" in acc)
    sweeps = [r["per_sweep_ms"] for r in gpu_rows]
    small = min(r["states"] for r in gpu_rows)
    return (f" On {device_label(bench['gpu_provenance'])} the log-space passes take {times} at "
            f"{big:,} states. A backward and forward sweep takes {min(sweeps):.2f} to {max(sweeps):.2f} ms at every "
            f"size from {small:,} states up, so there the number of sweeps, not the graph, sets the time"
            + (f"; the visitation frequencies agree with a float64 log-space run on the CPU to relative errors of "
               f"{errors}." if errors else "."))


def _largest(rows: list[dict[str, Any]], device: str, method: str) -> dict[str, Any] | None:
    sub = [r for r in rows if r["device"].startswith(device) and r["method"] == method]
    return max(sub, key=lambda r: r["states"]) if sub else None


def maxent_irl_summary(bench: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers a chapter quotes from ``maxent_irl.json``, at the largest CPU graph (or the largest of any).

    Keys: ``states``, ``actions``, ``horizon``; ``log_seconds`` and ``log_sweep_ms`` (one computation and
    one backward plus forward sweep, log-space passes, in ``log_dtype``); ``shaped_seconds`` and
    ``shaped_1thread_seconds`` (the shaped passes, with the sparse products on two threads and on one; NaN
    where not measured); ``shaped_all_rows_seconds`` (the shaped passes recomputing every row in every
    backup; NaN where not measured); ``cuda_seconds`` (log-space passes on a GPU, NaN without one); ``slope``, the
    fitted log-log slope of the log-space time per sweep against the number of states; ``threads``;
    ``has_shaped``; and, from the accuracy check of the shaped passes against float64 log space (NaN
    without one), ``dijkstra_s``, ``max_rel_error`` (of every positive D_s and D_a), ``max_abs_error_log_Z``,
    ``log_Z_lo`` and ``log_Z_hi``.
    """
    rows = maxent_irl_rows(bench)
    device = "cpu" if any(r["device"] == "cpu" for r in rows) else rows[0]["device"]
    log = sorted((r for r in rows if r["device"] == device and r["method"] == "log"), key=lambda r: r["states"])
    big_log = log[-1]
    S = np.array([r["states"] for r in log], dtype=float)
    sweep = np.array([r["per_sweep_ms"] for r in log], dtype=float)
    nan = float("nan")

    def seconds(row: dict[str, Any] | None) -> float:
        return float(row["best_s"]) if row is not None and row["states"] == big_log["states"] else nan

    acc = bench.get("accuracy") or {}
    return {
        "states": int(big_log["states"]),
        "actions": int(big_log["actions"]),
        "horizon": int(big_log["horizon"]),
        "log_seconds": float(big_log["best_s"]),
        "log_sweep_ms": float(big_log["per_sweep_ms"]),
        "log_dtype": big_log["dtype"],
        "shaped_seconds": seconds(_largest(rows, device, "shaped")),
        "shaped_1thread_seconds": seconds(_largest(rows, device, "shaped-1thread")),
        "shaped_all_rows_seconds": seconds(_largest(rows, device, "shaped-all-rows")),
        "cuda_seconds": seconds(_largest(rows, "cuda", "log")),
        "slope": float(np.polyfit(np.log(S), np.log(sweep), 1)[0]) if len(log) > 1 else nan,
        "threads": int(bench["provenance"].get("threads", 0)),
        "has_shaped": _largest(rows, device, "shaped") is not None,
        "dijkstra_s": float(acc.get("dijkstra_s", nan)),
        "max_rel_error": max(float(acc.get("max_rel_error_D_state", nan)), float(acc.get("max_rel_error_D_action", nan))),
        "max_abs_error_log_Z": float(acc.get("max_abs_error_log_Z", nan)),
        "log_Z_lo": float(acc.get("log_Z_range", [nan, nan])[0]),
        "log_Z_hi": float(acc.get("log_Z_range", [nan, nan])[1]),
    }


def maxent_irl_sentences(bench: Mapping[str, Any]) -> str:
    """What the committed Algorithm 1 benchmark shows, in a few sentences for chapter 6 (numbers from
    :func:`maxent_irl_summary`); says so when the file predates the shaped passes."""
    s = maxent_irl_summary(bench)
    device = device_label(bench["provenance"])
    where = f"On {device}"
    if not device.startswith("CPU ("):  # a CPU's label already names its threads
        where += f" with {s['threads']} torch thread{'s' if s['threads'] != 1 else ''}"
    size = (f"the largest graph has {s['states']:,} states and {s['actions']:,} actions, and one computation whose "
            f"horizon crosses the map (N = {s['horizon']}) takes")
    gpu = maxent_irl_gpu_sentence(bench) or ("" if math.isnan(s["cuda_seconds"]) else
                                             f" On the GPU the log-space passes take {s['cuda_seconds'] * 1000:.0f} ms for it.")
    if not s["has_shaped"]:
        return (f"{where}, {size} {s['log_seconds']:.2f} s with the log-space passes in {s['log_dtype']}, "
                f"{s['log_sweep_ms']:.1f} ms per backward and forward sweep. The committed measurement predates the "
                "shaped passes and times the log-space ones only; running benchmarks/bench_maxent_irl.py again "
                "times both and checks the shaped result against a double-precision log-space run." + gpu)
    variants = [f"{s[key]:.2f} s {what}" for key, what in (
        ("shaped_1thread_seconds", "with every sparse product on one thread"),
        ("shaped_all_rows_seconds", "recomputing every row in every backup")) if not math.isnan(s[key])]
    aside = "; ".join([f"{s['dijkstra_s']:.2f} s of it", *variants])
    return (f"{where}, {size} {s['shaped_seconds']:.2f} s with the shaped passes in float64, Dijkstra's potential "
            f"included ({aside}), against {s['log_seconds']:.2f} s with the log-space "
            f"passes in {s['log_dtype']}. The shaped result agrees with a double-precision log-space run to "
            f"{s['max_rel_error']:.1e} relative error in every visitation frequency and {s['max_abs_error_log_Z']:.1e} "
            f"in log Z, over log partition functions from {s['log_Z_lo']:.0f} to {s['log_Z_hi']:.0f}." + gpu)


def maxent_irl_figure(bench: Mapping[str, Any]) -> Figure:
    """Time per full computation (left) and per backward and forward sweep (right) against the number of
    states, one curve per device and method (the shaped passes include Dijkstra's potential); a dotted line
    at one second."""
    rows = maxent_irl_rows(bench)
    fig, (ax0, ax1) = new_figure(1, 2, figsize=(10, 3.5))
    for device in sorted({r["device"] for r in rows}):
        for method, dtype in sorted({(r["method"], r["dtype"]) for r in rows if r["device"] == device}):
            rs = [r for r in rows if r["device"] == device and r["method"] == method and r["dtype"] == dtype]
            label = f"{device}, {method} ({dtype})"
            style = _IRL_STYLE.get(method, "^-") if device == "cpu" else ("^:" if dtype == "float32" else "v:")
            ax0.plot([r["states"] for r in rs], [r["best_s"] for r in rs], style, label=label)
            ax1.plot([r["states"] for r in rs], [r["per_sweep_ms"] for r in rs], style, label=label)
    ax0.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax0.set(xlabel="states (road segments)", ylabel="s per computation, N = 2 × side")
    ax1.set(xlabel="states (road segments)", ylabel="ms per backward + forward sweep")
    for ax in (ax0, ax1):
        ax.set_xlim(0)
        ax.set_ylim(0)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def maxent_irl_table(bench: Mapping[str, Any]) -> str:
    """Every measured graph and method as a text table, then the accuracy check of the shaped passes (if any)."""
    lines = [f"{'device':>6} {'method':>14} {'dtype':>7} {'side':>5} {'states':>8} {'actions':>8} {'N':>5} "
             f"{'ms/sweep':>9} {'s total':>8}"]
    for r in maxent_irl_rows(bench):
        lines.append(f"{r['device']:>6} {r['method']:>14} {r['dtype']:>7} {r['side']:>5} {r['states']:>8,} "
                     f"{r['actions']:>8,} {r['horizon']:>5} {r['per_sweep_ms']:>9.2f} {r['best_s']:>8.3f}")
    acc = bench.get("accuracy")
    if acc:
        lines += ["", "shaped (float64) against log space (float64), largest graph:",
                  f"  largest relative error of D_s {acc['max_rel_error_D_state']:.1e}, of D_a {acc['max_rel_error_D_action']:.1e}",
                  f"  largest error of log Z {acc['max_abs_error_log_Z']:.1e} over log Z in "
                  f"[{acc['log_Z_range'][0]:.0f}, {acc['log_Z_range'][1]:.0f}]",
                  f"  Dijkstra's potential {acc['dijkstra_s']:.3f} s; the float64 log-space reference "
                  f"{acc['reference_log_float64_s']:.2f} s"]
    return "\n".join(lines)
