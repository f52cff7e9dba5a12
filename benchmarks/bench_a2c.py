"""End-to-end throughput of chapter 4's A2C (agent steps per second), and where the time goes.

For each case (a game, the number of ensemble members E, environment copies per
member N) the script trains ``maxentrl.a2c.train_a2c`` for a fixed number of
agent steps per member, exactly as the experiments do (soft Q-learning, naive
and proper A2C share the cost: the update rules differ only in a few
element-wise operations), and reads the time split the trainer records:

* env: stepping the E·N copies (gymnasium's synchronous vector environment for
  MinAtar, ale-py's threaded AtariVectorEnv for Atari);
* forward: the network's forward passes during the rollouts and the bootstrap;
* backward: the backward pass of the summed losses;
* optimizer: per-member gradient clipping and the RMSprop step;
* other: the rest of the loop (copies between NumPy and torch, returns, bookkeeping).

Building the network and the environments (``setup_s``) is timed apart and left
out of the rates.

An agent step is one action of one copy (4 frames on Atari, 1 on MinAtar).
Results go to data/benchmarks/a2c_throughput.json with the provenance of the
run (commit, machine, thread count, load average before and after).

Usage: python benchmarks/bench_a2c.py [--out PATH] [--device cpu|cuda] [--threads N] [--quick]
(one torch thread by default: for these small networks a second thread only adds waiting, badly so on a
busy machine; the environment threads of ale-py are separate.)
It is a script, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from maxentrl.a2c import A2CSettings, train_a2c
from maxentrl.envs import env_spec
from maxentrl.experiments.harness import RunContext
from maxentrl.provenance import atomic_write_json, collect_provenance, git_commit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "benchmarks" / "a2c_throughput.json"

#: (game, members E, copies per member N, agent steps per member)
CASES = [
    ("MinAtar/Breakout-v1", 1, 16, 8_000),
    ("MinAtar/Breakout-v1", 15, 16, 2_000),
    ("ALE/Pong-v5", 1, 16, 2_000),
    ("ALE/Pong-v5", 3, 16, 1_000),
]


def bench_case(game: str, members: int, envs: int, steps: int, device: torch.device) -> dict:
    ctx = RunContext(device=device, seed=0, progress=False)
    settings = A2CSettings(env_id=game, steps=steps, n_envs=envs, clip_rewards=env_spec(game).family == "atari",
                           log_every=steps, segment_updates=10**9)
    variants = ["soft_q"] * members
    t0 = time.perf_counter()
    ctx.stage("bench", lambda: train_a2c(settings, variants, ctx=ctx, stream=1, desc="bench"))
    wall = time.perf_counter() - t0
    parts = {k.split()[-2]: v for k, v in ctx.timings.items() if k.startswith("bench ")}
    setup = parts.pop("setup")
    loop = wall - setup  # training proper: building the network and the environments is left out
    total_steps = members * steps
    frames = total_steps * env_spec(game).frames_per_step
    return {
        "game": game, "members": members, "envs_per_member": envs, "steps_per_member": steps,
        "setup_s": round(setup, 3), "wall_s": round(loop, 3), "agent_steps_per_s": total_steps / loop,
        "frames_per_s": frames / loop, "seconds": {k: round(v, 3) for k, v in parts.items()},
        "other_s": round(loop - sum(parts.values()), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared CPU, several threads on these small tensors "
                             "spend most of their time waiting for each other; 0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps (a check that it runs)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    commit = git_commit()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = []
    for game, members, envs, steps in CASES:
        row = bench_case(game, members, envs, steps // 10 if args.quick else steps, device)
        rows.append(row)
        print(f"{game:22} E={members:<3} N={envs:<3} {row['agent_steps_per_s']:8.0f} agent steps/s "
              f"{row['frames_per_s']:8.0f} frames/s  {row['seconds']} other {row['other_s']}")
    report = {"rows": rows, "cases": CASES}
    report["provenance"] = collect_provenance(device=device, seed=0, preset="benchmark",
                                              wall_time_s=time.perf_counter() - t0, commit=commit)
    report["provenance"]["threads"] = torch.get_num_threads()
    report["provenance"]["cpu_count"] = os.cpu_count()
    report["provenance"]["load_average_1min_before_after"] = [load_before[0], os.getloadavg()[0]]
    atomic_write_json(args.out, report)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
