"""Command line: ``python -m maxentrl.experiments [NAME --preset quick|full --device auto|cpu|cuda ...]``.

Without a name it lists the experiments. Bad input ends with one line on
stderr and exit status 2, before any compute; no traceback.

Exit status: 0 the run finished and its files are written; 2 bad input;
75 the run stopped early (``--time-limit`` reached, or SIGTERM) after saving a
checkpoint: the same command continues it; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import math
import re
import signal
import sys

from maxentrl.device import DEVICE_CHOICES
from maxentrl.errors import ConfigError

EXIT_SUSPENDED = 75  # EX_TEMPFAIL: "try again" — the same command resumes the run


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m maxentrl.experiments", description="Run a chapter's experiment.",
                epilog="Exit status: 0 done; 2 bad input; 75 stopped early with a checkpoint (run the same "
                       "command again to continue); 130 interrupted.")
    p.add_argument("name", nargs="?", help="experiment to run; omit to list them")
    p.add_argument("--preset", default="quick", help="quick (CPU, what the book runs) or full (paper scale, GPU)")
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N (default auto: CUDA if present)")
    p.add_argument("--seed", default="0", help="integer seed in [0, 2**32) (default 0)")
    p.add_argument("--out", default="runs", help="folder for result files and the checkpoint (default ./runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. --set taus=0.1,1.0 (repeatable)")
    p.add_argument("--fresh", action="store_true", help="discard an existing checkpoint and start over")
    p.add_argument("--checkpoint-every", default=None, metavar="SECONDS",
                   help="seconds between checkpoints inside long loops (default 60, or $MAXENTRL_CHECKPOINT_EVERY; "
                        "0: at every opportunity)")
    p.add_argument("--time-limit", default=None, metavar="SECONDS",
                   help="checkpoint and stop (exit 75) after this many seconds; the same command continues the run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (also: MAXENTRL_PROGRESS=0)")
    p.add_argument("--stages", default=None, metavar="NAME[,NAME...]",
                   help="run only these stages of the run (experiments that declare theirs), keep them in the "
                        "checkpoint in --out and stop (exit 75); for spreading one run over parallel processes")
    p.add_argument("--merge", action="append", default=[], metavar="CHECKPOINT",
                   help="before running, join these checkpoints of the same run (made with --stages, each in a "
                        "folder of its own) into the checkpoint in --out (repeatable)")
    return p


def _seconds(option: str, text: str | None, *, positive: bool) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option} takes a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ConfigError(f"{option} must be a finite number of seconds {'> 0' if positive else '>= 0'}, got {text!r}")
    return value


def _parse_overrides(items: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set takes FIELD=VALUE, got {item!r}")
        if key in overrides:
            raise ConfigError(f"--set {key} is given twice")
        overrides[key] = value.strip()
    return overrides


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from maxentrl.experiments import load_all, run_experiment
    from maxentrl.experiments.harness import RunSuspended, request_stop

    try:
        registry = load_all()
        if args.name is None:
            given = [opt for opt, value, default in (
                ("--preset", args.preset, "quick"), ("--device", args.device, "auto"), ("--seed", args.seed, "0"),
                ("--out", args.out, "runs"), ("--set", args.overrides, []), ("--fresh", args.fresh, False),
                ("--checkpoint-every", args.checkpoint_every, None), ("--time-limit", args.time_limit, None),
                ("--stages", args.stages, None), ("--merge", args.merge, []),
            ) if value != default]
            if given:
                raise ConfigError(f"{', '.join(given)} need(s) an experiment name (run without options to list them)")
            for name, exp in sorted(registry.items()):
                print(f"{name:28s} ch.{exp.chapter}  {exp.summary}")
            return 0
        if not re.fullmatch(r"[0-9]+", args.seed.strip()):
            raise ConfigError(f"seed must be an integer in [0, 2**32), got {args.seed!r}")
        seed = int(args.seed.strip())
        if not args.out.strip():
            raise ConfigError("--out must name a folder")
        stages = None
        if args.stages is not None:
            stages = [part.strip() for part in args.stages.split(",") if part.strip()]
            if not stages:
                raise ConfigError("--stages takes stage names separated by commas, got none")
        if args.merge:
            from maxentrl.experiments.harness import merge_checkpoints

            if args.fresh:
                raise ConfigError("--merge and --fresh contradict each other")
            merge_checkpoints(args.merge, args.out)
        signal.signal(signal.SIGTERM, lambda signum, frame: request_stop())
        result = run_experiment(
            args.name,
            preset=args.preset,
            device=args.device,
            seed=seed,
            out=args.out,
            progress=False if args.no_progress else None,
            overrides=_parse_overrides(args.overrides),
            resume=not args.fresh,
            checkpoint_every=_seconds("--checkpoint-every", args.checkpoint_every, positive=False),
            time_limit=_seconds("--time-limit", args.time_limit, positive=True),
            stages=stages,
        )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RunSuspended as why:
        print(f"{args.name}: {why}; checkpoint saved in {args.out}/ — run the same command again to continue",
              file=sys.stderr)
        return EXIT_SUSPENDED
    except KeyboardInterrupt:
        print("interrupted (the last checkpoint, if any, is kept for resuming)", file=sys.stderr)
        return 130
    prov = result.provenance
    print(f"{result.name} [{result.preset}] seed {prov['seed']} on {prov['device_name']}: {prov['wall_time_s']:.1f} s")
    print(f"results written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
