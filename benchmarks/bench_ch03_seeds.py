"""Seeds as a batch dimension: training steps per second against the number of seeds in one process.

Soft Q-learning and DDPG (maxentrl.actor_critic) keep every seed's critic and
actor in one ensemble (maxentrl.ensemble.EnsembleMLP), so that one training
step of E seeds (E environment steps, E critic updates, E actor updates) is
one sequence of batched tensor operations. This script times a training step
on the multi-goal task with chapter 3's quick-preset networks for a range of
E, after a warm-up, and reports the time per step and the seed-updates per
second (E / time per step). If adding seeds cost nothing, the time per step
would stay flat; if the seeds ran one after another, it would grow linearly.

Writes data/benchmarks/ch03_seeds.json with the provenance of the run.

Usage: python benchmarks/bench_ch03_seeds.py [--out PATH] [--device cpu|cuda] [--threads N] [--seeds 1,2,4,...]
It is a script, not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from maxentrl.actor_critic import ActorCritic, Trainer
from maxentrl.envs.multigoal import MultiGoalSpec
from maxentrl.envs.vector import TensorVecEnv
from maxentrl.experiments.ch03_soft_q_learning import QUICK, _mg_agent_config
from maxentrl.provenance import atomic_write_json, collect_provenance

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "benchmarks" / "ch03_seeds.json"


def time_step(method: str, seeds: int, device: torch.device, *, warmup: int = 150, steps: int = 100,
              repeats: int = 3) -> tuple[float, float]:
    """Median wall-clock and process CPU seconds per training step of ``seeds`` seeds (after ``warmup`` steps).

    On a machine shared with other jobs the CPU time is the steadier of the
    two (it does not count time spent waiting for a core); with one thread and
    a machine to itself, the two agree.
    """
    g = torch.Generator(device=device).manual_seed(0)
    agent = ActorCritic(_mg_agent_config(QUICK, method), n_members=seeds, obs_dim=2, act_dim=2, generator=g,
                        device=device)
    trainer = Trainer(agent, TensorVecEnv(MultiGoalSpec(), seeds, generator=g, device=device), generator=g)
    trainer.run(warmup)
    wall, cpu = [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.run(steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1, as the quick preset)")
    parser.add_argument("--seeds", default="1,2,4,8,16,32")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device is available")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = []
    for method in ("sql", "ddpg"):
        for E in (int(s) for s in args.seeds.split(",")):
            wall, cpu = time_step(method, E, device)
            dt = cpu if device.type == "cpu" else wall
            rows.append({"method": method, "device": device.type, "seeds": E, "ms_per_step": 1000 * dt,
                         "member_updates_per_s": E / dt, "wall_ms_per_step": 1000 * wall, "cpu_ms_per_step": 1000 * cpu})
            print(f"{method:4s} E={E:3d}: {1000 * dt:7.2f} ms per step ({1000 * wall:7.2f} wall), "
                  f"{E / dt:8.1f} seed-updates/s", flush=True)
    prov = collect_provenance(device=device, seed=0, preset="benchmark", wall_time_s=time.perf_counter() - t0)
    prov.update({"threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                 "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]]})
    cfg = _mg_agent_config(QUICK, "sql")
    report = {
        "what": "one training step of E seeds on the multi-goal task: E environment steps, then one critic and one "
                "actor update per seed (mini-batch 64), networks of chapter 3's quick preset",
        "timing": "ms_per_step is the process CPU time per step on the CPU (wall-clock time on a GPU); "
                  "wall_ms_per_step is the wall-clock time, which a shared machine inflates",
        "networks": {"hidden": list(cfg.hidden), "svgd_particles_per_state": cfg.svgd_fixed + cfg.svgd_updated,
                     "value_samples": cfg.value_samples, "policy_states": cfg.policy_states},
        "rows": rows,
        "provenance": prov,
    }
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
