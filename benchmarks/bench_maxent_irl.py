"""Benchmark: Algorithm 1 (Ziebart et al. 2008) on road-like graphs up to ~300,000 states.

The paper's Pittsburgh road network has over 300,000 states (road segments)
and 900,000 actions (transitions at intersections). This script synthesizes
graphs with the same structure — a grid of intersections with a few roads
removed; each directed road segment is a state, each turn onto a next
segment (straight, left or right; U-turns only at dead ends) an action, so
there are about three actions per state — and times one full
expected-visitation computation (backward pass, local action probabilities,
forward pass, N = 2 × side sweeps each, enough to cross the map; one goal at a
corner, so that the farthest segments are about N actions away, the start
spread over every segment) for growing sizes, two ways:

* ``shaped``: the potential-shaped linear passes of
  ``maxentrl.irl.maxent.shaped_visitation`` in float64 (Dijkstra for the
  potential, then one sparse product per sweep, over only the rows whose
  successors moved in the backward pass), what ``method="auto"`` runs on a
  CPU for large graphs; from ``SHAPED_SPLIT_STATES`` states on each product is
  split into two row blocks computed on two threads. ``shaped-1thread`` times
  the same passes with every product on one thread, ``shaped-all-rows`` with
  every row recomputed in every backup;
* ``log``: the log-space passes (a gather and a log-sum-exp per backup, a
  scatter-add per forward step), in float32, what runs on a GPU.

At the largest size the shaped result is compared with a float64 log-space
run, entry by entry (relative error of every positive D_s and D_a, absolute
error of log Z). Each timed run follows an untimed one on the same graph, so
the graph's sparse layout (built once per graph and cached) is not timed;
its build time is reported separately.

    python benchmarks/bench_maxent_irl.py            # CPU, and CUDA when present
    python benchmarks/bench_maxent_irl.py --quick    # small sizes only
    python benchmarks/bench_maxent_irl.py --devices cuda --out data/benchmarks/maxent_irl_cuda.json

With ``--devices cuda`` only the GPU rows are timed (log space, in float32 and
in float64), and their accuracy at the largest size is measured against a
float64 log-space run on the CPU.

Writes data/benchmarks/maxent_irl.json with provenance, including the load
average of the machine before and after (timings taken on a busy machine are
inflated). The book plots that file; it never re-runs this script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

from maxentrl.irl.graph import GraphMDP  # noqa: E402
import maxentrl.irl.maxent as maxent  # noqa: E402
from maxentrl.irl.maxent import cost_to_goal, expected_visitation  # noqa: E402
from maxentrl.provenance import atomic_write_json, collect_provenance, git_commit  # noqa: E402


def road_like_graph(side: int, *, generator: torch.Generator, drop: float = 0.04, num_features: int = 8,
                    dtype: torch.dtype = torch.float32) -> GraphMDP:
    """A ``side × side`` grid of intersections with a fraction ``drop`` of its roads removed, as a line graph.

    States are directed road segments (two per remaining road); an action turns
    from segment u→v onto v→w (w ≠ u, or w = u at a dead end). Features are
    random non-negative road attributes (per state) and a one-hot turn type (per action).
    Actions are sorted by state.
    """
    n = side
    node = torch.arange(n * n).reshape(n, n)
    horiz = torch.stack([node[:, :-1].reshape(-1), node[:, 1:].reshape(-1)], 1)
    vert = torch.stack([node[:-1, :].reshape(-1), node[1:, :].reshape(-1)], 1)
    roads = torch.cat([horiz, vert])
    roads = roads[torch.rand(roads.shape[0], generator=generator) >= drop]
    seg_u = torch.cat([roads[:, 0], roads[:, 1]])
    seg_v = torch.cat([roads[:, 1], roads[:, 0]])
    S = seg_u.shape[0]
    # segments leaving each node, CSR by node
    order = torch.argsort(seg_u, stable=True)
    count = torch.bincount(seg_u, minlength=n * n)
    ptr = torch.cumsum(count, 0) - count
    # for each segment s = (u→v) and each of the (≤4) segments leaving v
    deg_v = count[seg_v]
    max_deg = int(count.max())
    k = torch.arange(max_deg)
    valid = k.unsqueeze(0) < deg_v.unsqueeze(1)
    nxt = order[(ptr[seg_v].unsqueeze(1) + k.unsqueeze(0)).clamp(max=S - 1)]
    u_turn = seg_v[nxt] == seg_u.unsqueeze(1)
    valid &= ~u_turn | (deg_v == 1).unsqueeze(1)
    src = torch.arange(S).unsqueeze(1).expand(-1, max_deg)[valid]
    dst = nxt[valid]
    f = torch.rand(S, num_features, generator=generator, dtype=dtype)
    g = torch.zeros(src.shape[0], num_features, dtype=dtype)
    g[torch.arange(src.shape[0]), torch.randint(4, (src.shape[0],), generator=generator)] = 1.0
    return GraphMDP(S, src, dst, f, g)


def problem(mdp: GraphMDP, device: torch.device) -> tuple[GraphMDP, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The benchmark's θ, goal (segment S/2, the first reversed one: at a corner of the grid) and uniform start on ``device``."""
    mdp = mdp.to(device)
    dtype = mdp.state_features.dtype
    theta = -torch.full((mdp.num_features,), 0.5, dtype=dtype, device=device)
    goal = torch.tensor([mdp.num_states // 2], device=device)
    D0 = torch.full((1, mdp.num_states), 1.0 / mdp.num_states, dtype=dtype, device=device)
    return mdp, theta, goal, D0


def time_visitation(mdp: GraphMDP, *, horizon: int, repeats: int, device: torch.device, method: str) -> tuple[list[float], str]:
    """Wall times of ``repeats`` full expected-visitation computations, after one untimed run."""
    mdp, theta, goal, D0 = problem(mdp, device)
    used = expected_visitation(mdp, theta, goal, D0, horizon=horizon, method=method).method  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        expected_visitation(mdp, theta, goal, D0, horizon=horizon, method=method)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times, used


def accuracy(mdp64: GraphMDP, *, horizon: int) -> dict:
    """Shaped float64 against log-space float64 on the same problem (the reference)."""
    mdp, theta, goal, D0 = problem(mdp64, torch.device("cpu"))
    t0 = time.perf_counter()
    ref = expected_visitation(mdp, theta, goal, D0, horizon=horizon, method="log")
    t_ref = time.perf_counter() - t0
    got = expected_visitation(mdp, theta, goal, D0, horizon=horizon, method="shaped")
    assert got.method == "shaped"

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        pos = b > 0
        return float(((a[pos] - b[pos]).abs() / b[pos]).max())

    fin = torch.isfinite(ref.log_Z_state)
    t0 = time.perf_counter()
    cost_to_goal(mdp, (-mdp.action_rewards(theta)).numpy(), int(goal))
    t_dijkstra = time.perf_counter() - t0
    return {"max_rel_error_D_state": rel(got.D_state, ref.D_state), "max_rel_error_D_action": rel(got.D_action, ref.D_action),
            "max_abs_error_log_Z": float((got.log_Z_state[fin] - ref.log_Z_state[fin]).abs().max()),
            "log_Z_range": [float(ref.log_Z_state[fin].min()), float(ref.log_Z_state[fin].max())],
            "reference_log_float64_s": t_ref, "dijkstra_s": t_dijkstra}


def gpu_accuracy(mdp64: GraphMDP, *, horizon: int) -> dict:
    """The GPU's log-space passes (float32 and float64) against float64 log space on the CPU (the reference)."""
    mdp, theta, goal, D0 = problem(mdp64, torch.device("cpu"))
    ref = expected_visitation(mdp, theta, goal, D0, horizon=horizon, method="log")
    out = {}
    for dtype in (torch.float32, torch.float64):
        m, th, g, d0 = problem(mdp64.to(dtype=dtype), torch.device("cuda"))
        got = expected_visitation(m, th, g, d0, horizon=horizon, method="log")
        name = str(dtype).removeprefix("torch.")
        for key, a, b in (("D_state", got.D_state, ref.D_state), ("D_action", got.D_action, ref.D_action)):
            a = a.double().cpu()
            pos = b > 1e-12 * b.max()  # entries too small for float32 to hold relative to the largest are left out
            out[f"cuda_{name}_max_rel_error_{key}"] = float(((a[pos] - b[pos]).abs() / b[pos]).max())
        fin = torch.isfinite(ref.log_Z_state)
        out[f"cuda_{name}_max_abs_error_log_Z"] = float((got.log_Z_state.double().cpu()[fin] - ref.log_Z_state[fin]).abs().max())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Algorithm 1 timing vs graph size")
    parser.add_argument("--sides", type=int, nargs="*", default=[70, 120, 170, 220, 280])
    parser.add_argument("--sweeps-per-side", type=float, default=2.0,
                        help="N = this × side backups and forward steps (2 × side covers the grid's diameter)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per size; the best is reported (the machine may be shared)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "maxent_irl.json")
    parser.add_argument("--devices", default=None,
                        help="comma-separated: cpu, cuda (default: cpu, and cuda when present)")
    args = parser.parse_args()
    wanted = ["cpu", "cuda"] if args.devices is None else [d.strip() for d in args.devices.split(",") if d.strip()]
    if not wanted or set(wanted) - {"cpu", "cuda"}:
        parser.error(f"--devices takes cpu and/or cuda, got {args.devices!r}")
    if "cuda" in wanted and args.devices is not None and not torch.cuda.is_available():
        parser.error("--devices cuda: no CUDA device here")
    commit = git_commit()
    load_before = os.getloadavg()
    torch.set_num_threads(args.threads)
    sides = [20, 40] if args.quick else args.sides
    devices = [torch.device(d) for d in wanted if d == "cpu" or torch.cuda.is_available()]
    t_start = time.perf_counter()
    rows = []
    largest64 = None
    for side in sides:
        N = int(round(args.sweeps_per_side * side))
        mdp32 = road_like_graph(side, generator=torch.Generator().manual_seed(side))
        mdp64 = mdp32.to(dtype=torch.float64)
        t0 = time.perf_counter()
        _ = mdp64.sparse_plan  # the per-graph layout of the shaped passes, built once and cached
        plan_s = time.perf_counter() - t0
        runs = [("cpu", "shaped", mdp64, "float64", ""), ("cpu", "shaped", mdp64, "float64", "-1thread"),
                ("cpu", "shaped", mdp64, "float64", "-all-rows"),
                ("cpu", "log", mdp32, "float32", "")] if "cpu" in wanted else []
        runs += [(str(d), "log", m, dt, "") for d in devices if d.type == "cuda"
                 for m, dt in ((mdp32, "float32"), (mdp64, "float64"))]
        defaults = maxent.SHAPED_SPLIT_STATES, maxent.SHAPED_BLOCK_ROWS
        for dev, method, mdp, dtype, variant in runs:
            if variant == "-1thread" and mdp.num_states < defaults[0]:
                continue  # below the threshold the products run on one thread anyway
            # the shaped passes split each sparse product over two threads on large graphs (-1thread: never), and
            # each backup recomputes only the rows whose successors moved (-all-rows: one block, every row)
            maxent.SHAPED_SPLIT_STATES = 1 << 62 if variant == "-1thread" else defaults[0]
            maxent.SHAPED_BLOCK_ROWS = 1 << 62 if variant == "-all-rows" else defaults[1]
            try:
                times, used = time_visitation(mdp, horizon=N, repeats=args.repeats, device=torch.device(dev), method=method)
            finally:
                maxent.SHAPED_SPLIT_STATES, maxent.SHAPED_BLOCK_ROWS = defaults
            used += variant
            row = {"device": dev, "method": used, "dtype": dtype, "side": side, "states": mdp.num_states,
                   "actions": mdp.num_actions, "horizon": N, "best_s": min(times), "median_s": statistics.median(times),
                   "times_s": times, "per_sweep_ms": 1000 * min(times) / (2 * N)}
            if method == "shaped":
                row["layout_build_s"] = plan_s
            rows.append(row)
            print(f"{dev:4s} {used:6s} {dtype} S={mdp.num_states:7d} E={mdp.num_actions:7d} N={N}: "
                  f"best {row['best_s']:.3f} s, median {row['median_s']:.3f} s", flush=True)
        largest64 = (mdp64, N)
    acc = accuracy(largest64[0], horizon=largest64[1]) if "cpu" in wanted else gpu_accuracy(largest64[0], horizon=largest64[1])
    print("accuracy at the largest size:", acc)
    prov = collect_provenance(device=devices[-1], seed=0, preset="quick" if args.quick else "full",
                              wall_time_s=time.perf_counter() - t_start, commit=commit)
    prov["threads"] = args.threads
    prov["load_average_before"] = [round(x, 2) for x in load_before]
    prov["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    prov["cpu_count"] = os.cpu_count()
    atomic_write_json(args.out, {"rows": rows, "accuracy": acc, "provenance": prov})
    print(f"wrote {args.out} (load average before {prov['load_average_before']}, after {prov['load_average_after']})")


if __name__ == "__main__":
    main()
