"""Benchmark: Algorithm 1 (Ziebart et al. 2008) on road-like graphs up to ~300,000 states.

The paper's Pittsburgh road network has over 300,000 states (road segments)
and 900,000 actions (transitions at intersections). This script synthesizes
graphs with the same structure — a grid of intersections with a few roads
removed; each directed road segment is a state, each turn onto a next
segment (straight, left or right; U-turns only at dead ends) an action, so
there are about three actions per state — and times one full
expected-visitation computation (backward pass, local action probabilities,
forward pass, N = 2 × side sweeps each, enough to cross the map) for growing
sizes. The cost per sweep is O(E), so the time per sweep should grow linearly
with the number of states (and a full computation like S^1.5, as N grows with
the map's diameter).

    python benchmarks/bench_maxent_irl.py            # CPU, and CUDA when present
    python benchmarks/bench_maxent_irl.py --quick    # small sizes only

Writes data/benchmarks/maxent_irl.json with provenance. The book plots that
file; it never re-runs this script.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

from maxentrl.irl.graph import GraphMDP  # noqa: E402
from maxentrl.irl.maxent import expected_visitation  # noqa: E402
from maxentrl.provenance import atomic_write_json, collect_provenance  # noqa: E402


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


def time_visitation(mdp: GraphMDP, *, horizon: int, repeats: int, device: torch.device) -> list[float]:
    """Wall times of ``repeats`` full expected-visitation computations (after a short warm-up run).

    The goal is a segment in the middle of the map and the start distribution
    is uniform over all segments, so that the forward pass carries mass
    everywhere; ``horizon`` should cover the graph's diameter.
    """
    mdp = mdp.to(device)
    theta = -torch.full((mdp.num_features,), 0.5, dtype=mdp.state_features.dtype, device=device)
    goal = torch.tensor([mdp.num_states // 2], device=device)
    D0 = torch.full((1, mdp.num_states), 1.0 / mdp.num_states, dtype=mdp.state_features.dtype, device=device)
    expected_visitation(mdp, theta, goal, D0, horizon=min(horizon, 5))  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        expected_visitation(mdp, theta, goal, D0, horizon=horizon)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="Algorithm 1 timing vs graph size")
    parser.add_argument("--sides", type=int, nargs="*", default=[70, 120, 170, 220, 280])
    parser.add_argument("--sweeps-per-side", type=float, default=2.0,
                        help="N = this × side backups and forward steps (2 × side covers the grid's diameter)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per size; the best is reported (the machine may be shared)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "benchmarks" / "maxent_irl.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sides = [20, 40] if args.quick else args.sides
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    t_start = time.perf_counter()
    rows = []
    for side in sides:
        mdp = road_like_graph(side, generator=torch.Generator().manual_seed(side))
        for dev in devices:
            N = int(round(args.sweeps_per_side * side))
            times = time_visitation(mdp, horizon=N, repeats=args.repeats, device=dev)
            row = {"device": str(dev), "side": side, "states": mdp.num_states, "actions": mdp.num_actions,
                   "horizon": N, "best_s": min(times), "median_s": statistics.median(times),
                   "times_s": times, "per_sweep_ms": 1000 * min(times) / N}
            rows.append(row)
            print(f"{dev.type:4s} S={mdp.num_states:7d} E={mdp.num_actions:7d} N={N}: "
                  f"best {row['best_s']:.3f} s, median {row['median_s']:.3f} s ({row['per_sweep_ms']:.1f} ms per sweep)", flush=True)
    prov = collect_provenance(device=devices[-1], seed=0, preset="quick" if args.quick else "full",
                              wall_time_s=time.perf_counter() - t_start)
    prov["threads"] = args.threads
    prov["dtype"] = "float32"
    atomic_write_json(args.out, {"rows": rows, "provenance": prov})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
