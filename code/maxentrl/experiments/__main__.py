"""Command line: ``python -m maxentrl.experiments [NAME --preset quick|full --device auto|cpu|cuda ...]``.

Without a name it lists the experiments. Bad input ends with one line on
stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys

from maxentrl.device import DEVICE_CHOICES
from maxentrl.errors import ConfigError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m maxentrl.experiments", description="Run a chapter's experiment.")
    p.add_argument("name", nargs="?", help="experiment to run; omit to list them")
    p.add_argument("--preset", default="quick", help="quick (CPU, what the book runs) or full (paper scale, GPU)")
    p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} (default auto: CUDA if present)")
    p.add_argument("--seed", default="0", help="non-negative integer seed (default 0)")
    p.add_argument("--out", default="runs", help="directory for result files and checkpoints (default ./runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. --set taus=0.1,1.0 (repeatable)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from maxentrl.experiments import load_all, run_experiment

    try:
        registry = load_all()
        if args.name is None:
            for name, exp in sorted(registry.items()):
                print(f"{name:28s} ch.{exp.chapter}  {exp.summary}")
            return 0
        try:
            seed = int(args.seed)
        except ValueError:
            raise ConfigError(f"seed must be a non-negative integer, got {args.seed!r}") from None
        overrides = {}
        for item in args.overrides:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--set takes FIELD=VALUE, got {item!r}")
            overrides[key.strip()] = value.strip()
        result = run_experiment(
            args.name,
            preset=args.preset,
            device=args.device,
            seed=seed,
            out=args.out,
            progress=not args.no_progress,
            overrides=overrides,
            resume=not args.fresh,
        )
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (a checkpoint, if any, is kept for resuming)", file=sys.stderr)
        return 130
    prov = result.provenance
    print(f"{result.name} [{result.preset}] seed {prov['seed']} on {prov['device_name']}: {prov['wall_time_s']:.1f} s")
    print(f"results written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
