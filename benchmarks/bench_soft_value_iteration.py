"""Throughput of batched soft value iteration against the memory-bandwidth bound.

One soft Bellman backup (maxentrl.soft_bellman.soft_bellman_backup) of b MDPs
with S states and A actions reads the whole transition tensor P[b, S, A, S]
once (a batched mat-vec with V[b, S]); everything else it touches is S times
smaller. Its arithmetic intensity is about 2 flops per element of P, far below
what a CPU or GPU can do per byte loaded, so its speed is capped by memory
bandwidth W: at best one pass over P per backup, i.e.

    state-action backups per second ≤ W / (S · bytes per element),

independently of b and A. This script measures W honestly (a large tensor
copy, counted as read + write, and a large reduction, read only; the bound
uses the larger) and the backups per second for a range of sizes, in float32
and float64, on the CPU and on CUDA when present, and writes
data/benchmarks/soft_value_iteration.json with the provenance of the run.

Usage: python benchmarks/bench_soft_value_iteration.py [--out PATH] [--device cpu|cuda|all] [--budget SECONDS] [--threads N]
It is a script, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from maxentrl.mdp import TabularMDP
from maxentrl.provenance import atomic_write_json, collect_provenance
from maxentrl.soft_bellman import soft_bellman_backup

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "benchmarks" / "soft_value_iteration.json"

#: (b, S, A): from overhead-bound (tiny P) through cache-resident to DRAM-bound (P up to 256 MiB in float64).
SIZES = [
    (1, 16, 4),
    (64, 16, 4),
    (16, 64, 8),
    (1, 512, 8),
    (64, 128, 8),
    (1, 2048, 8),
    (16, 512, 16),
]


def _cache_bytes() -> int | None:
    """Size of the largest CPU cache level (Linux sysfs), or None when unknown."""
    best = None
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")) if base.exists() else []:
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        unit = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1], 1)
        value = int(text[:-1] if text[-1] in "KMG" else text) * unit
        best = value if best is None else max(best, value)
    return best


def _bench_mdp(b: int, S: int, A: int, *, generator: torch.Generator, dtype: torch.dtype) -> TabularMDP:
    """Random MDPs whose content does not matter for timing (uniform rows, cheaper than Dirichlet draws)."""
    P = torch.rand((b, S, A, S), generator=generator, device=generator.device, dtype=dtype) + 0.01
    P = P / P.sum(-1, keepdim=True)
    r = torch.randn((b, S, A), generator=generator, device=generator.device, dtype=dtype)
    mu0 = torch.full((b, S), 1.0 / S, device=generator.device, dtype=dtype)
    return TabularMDP(P=P, r=r, gamma=0.9, mu0=mu0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device, *, min_time: float = 0.1, repeats: int = 5) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` timed batches of at least ``min_time`` each."""
    fn()
    _sync(device)
    n = 1
    while True:  # calibrate the batch size
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(device)
        dt = time.perf_counter() - t0
        if dt >= min_time / 4 or n >= 1 << 20:
            break
        n *= 4
    n = max(1, int(n * (min_time / max(dt, 1e-9))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(device)
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def measure_bandwidth(device: torch.device, *, n_bytes: int = 256 * 2**20) -> dict:
    """Streaming bandwidth in bytes/s: a copy (read + write counted) and a sum (read only) of ``n_bytes``."""
    src = torch.rand(n_bytes // 4, device=device, dtype=torch.float32)
    dst = torch.empty_like(src)
    copy_s = _time(lambda: dst.copy_(src), device, min_time=0.3)
    sum_s = _time(lambda: src.sum(), device, min_time=0.3)
    copy_bw = 2 * n_bytes / copy_s
    read_bw = n_bytes / sum_s
    return {
        "method": f"median of 5 timed batches: dst.copy_(src) and src.sum() on a {n_bytes // 2**20} MiB float32 tensor",
        "copy_bytes_per_s": copy_bw,
        "read_bytes_per_s": read_bw,
        "bound_bytes_per_s": max(copy_bw, read_bw),
    }


def bench_device(device: torch.device, budget_s: float) -> tuple[dict, list[dict]]:
    bw = measure_bandwidth(device)
    rows = []
    start = time.perf_counter()
    gen = torch.Generator(device=device).manual_seed(0)
    cache = _cache_bytes() if device.type == "cpu" else None
    for b, S, A in SIZES:
        for dtype in (torch.float32, torch.float64):
            if time.perf_counter() - start > budget_s:
                break
            elem = torch.finfo(dtype).bits // 8
            mdp = _bench_mdp(b, S, A, generator=gen, dtype=dtype)
            Q = torch.randn((b, S, A), generator=gen, device=device, dtype=dtype)
            seconds = _time(lambda: soft_bellman_backup(Q, mdp, 1.0), device)
            backups = b * S * A / seconds
            bound = bw["bound_bytes_per_s"] / (S * elem)
            P_bytes = b * S * A * S * elem
            rows.append({
                "device": device.type, "dtype": str(dtype).replace("torch.", ""), "b": b, "S": S, "A": A,
                "P_bytes": P_bytes, "fits_in_cache": None if cache is None else P_bytes <= cache,
                "seconds_per_backup": seconds, "backups_per_s": backups,
                "bound_backups_per_s": bound, "fraction_of_bound": backups / bound,
            })
            print(f"{device.type:4s} {rows[-1]['dtype']:7s} b={b:4d} S={S:5d} A={A:3d} P={P_bytes / 2**20:8.2f} MiB "
                  f"{backups:10.3e} backups/s  bound {bound:10.3e}  ({100 * backups / bound:5.1f}%)", flush=True)
            del mdp, Q
    return bw, rows


def compare_bmm_mv(b: int = 16, S: int = 512, A: int = 16) -> dict:
    """CPU: one batched matmul with a single right-hand column vs one ``torch.mv`` per MDP (why the package loops)."""
    gen = torch.Generator().manual_seed(1)
    P = torch.rand((b, S * A, S), generator=gen, dtype=torch.float32)
    V = torch.rand((b, S), generator=gen, dtype=torch.float32)
    cpu = torch.device("cpu")
    bmm_s = _time(lambda: torch.bmm(P, V.unsqueeze(-1)), cpu)
    mv_s = _time(lambda: torch.stack([torch.mv(P[i], V[i]) for i in range(b)]), cpu)
    return {"b": b, "S": S, "A": A, "dtype": "float32", "bmm_seconds": bmm_s, "mv_seconds": mv_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all")
    parser.add_argument("--budget", type=float, default=45.0, help="seconds of timing per device (sizes beyond it are skipped)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (default 1: on a shared machine, more threads spin against other jobs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    devices = []
    if args.device in ("cpu", "all"):
        devices.append(torch.device("cpu"))
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    if args.device == "cuda" and not devices:
        parser.error("no CUDA device is available")
    t0 = time.perf_counter()
    report: dict = {"bandwidth": {}, "rows": [], "per_device_provenance": {}}
    for device in devices:
        bw, rows = bench_device(device, args.budget)
        report["bandwidth"][device.type] = bw
        report["rows"] += rows
        report["per_device_provenance"][device.type] = collect_provenance(
            device=device, seed=0, preset="benchmark", wall_time_s=time.perf_counter() - t0)
    report["provenance"] = collect_provenance(device=devices[-1], seed=0, preset="benchmark",
                                              wall_time_s=time.perf_counter() - t0)
    report["provenance"]["threads"] = torch.get_num_threads()
    report["provenance"]["cpu_count"] = os.cpu_count()
    report["provenance"]["largest_cpu_cache_bytes"] = _cache_bytes()
    report["provenance"]["load_average_1min_before_after"] = [load_before[0], os.getloadavg()[0]]
    report["sizes"] = SIZES
    report["bmm_vs_mv"] = compare_bmm_mv()
    report["bound"] = "state-action backups/s <= W / (S * bytes per element): one pass over P[b, S, A, S] per backup"
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
