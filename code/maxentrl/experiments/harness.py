"""The experiment harness every chapter uses.

An experiment is a frozen config dataclass, a ``quick`` and a ``full`` preset
of it, and a pure-ish function ``run(config, ctx) -> dict`` that computes the
chapter's claims. The harness adds what every run needs and no chapter should
write again: device choice, seeding, progress bars, checkpoints, provenance
and atomic result files.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from maxentrl.device import resolve_device
from maxentrl.errors import ConfigError
from maxentrl.provenance import (
    atomic_torch_save,
    atomic_write_json,
    atomic_write_text,
    collect_provenance,
    git_commit,
    to_jsonable,
)

__all__ = [
    "ConfigError",
    "Experiment",
    "RunContext",
    "RunResult",
    "REGISTRY",
    "register",
    "get_experiment",
    "run_experiment",
    "load_result",
    "committed_result",
    "apply_overrides",
]

PRESETS = ("quick", "full")


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What a running experiment may use besides its config.

    Attributes:
        device: where tensors live (``auto`` already resolved).
        seed: the run's seed; derive every generator from it with :meth:`generator`.
        progress: whether to draw progress bars.
        checkpoint_path: file for :meth:`save_checkpoint`; ``None`` disables checkpoints.
    """

    device: torch.device
    seed: int
    progress: bool = True
    checkpoint_path: Path | None = None

    def generator(self, stream: int = 0) -> torch.Generator:
        """A ``torch.Generator`` on :attr:`device` seeded by ``(seed, stream)``.

        Separate streams keep independent parts of an experiment reproducible
        on their own (changing one part's sample count does not shift another's).
        """
        g = torch.Generator(device=self.device)
        g.manual_seed(self.seed * 1_000_003 + stream)
        return g

    def bar(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "") -> tqdm:
        """A tqdm progress bar, silent when :attr:`progress` is off."""
        return tqdm(iterable, total=total, desc=desc, disable=not self.progress, leave=False, dynamic_ncols=True)

    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Atomically save ``state`` (anything ``torch.save`` takes); no-op without a path."""
        if self.checkpoint_path is not None:
            atomic_torch_save(self.checkpoint_path, dict(state))

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last saved state of this run, or ``None`` to start afresh."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return None
        return torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes:
        name: command-line name, e.g. ``"ch01_boltzmann"``.
        chapter: the book chapter it belongs to.
        summary: one line for the listing.
        config_type: the frozen config dataclass.
        presets: ``{"quick": config, "full": config}``.
        run: ``run(config, ctx) -> dict``; the dict holds JSON-able values or tensors.
    """

    name: str
    chapter: int
    summary: str
    config_type: type
    presets: Mapping[str, Any]
    run: Callable[[Any, RunContext], dict]

    def __post_init__(self) -> None:
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise TypeError(f"experiment {self.name} lacks presets {missing}")


REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to :data:`REGISTRY` (names are unique)."""
    if experiment.name in REGISTRY and REGISTRY[experiment.name] is not experiment:
        raise ValueError(f"experiment {experiment.name!r} registered twice")
    REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    """Look ``name`` up, with a one-line :class:`ConfigError` listing the known ones."""
    from maxentrl.experiments import load_all

    load_all()
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise ConfigError(f"unknown experiment {name!r} (known: {known})")
    return REGISTRY[name]


def _coerce(field: dataclasses.Field, hint: Any, text: str) -> Any:
    """Parse the command-line string ``text`` as the type of a config field."""
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if hint in (int, float, str):
            return hint(text)
        if origin is tuple:
            args = [a for a in typing.get_args(hint) if a is not Ellipsis]
            item = args[0] if args else str
            return tuple(item(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ConfigError(f"cannot read {text!r} as {getattr(hint, '__name__', hint)} for field {field.name!r}") from None
    raise ConfigError(f"field {field.name!r} cannot be set from the command line")


def apply_overrides(config: Any, overrides: Mapping[str, Any]) -> Any:
    """``dataclasses.replace`` with checks; string values are parsed to the field's type."""
    if not overrides:
        return config
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ConfigError(f"{type(config).__name__} has no field {key!r} (fields: {', '.join(fields)})")
        changes[key] = _coerce(fields[key], hints[key], value) if isinstance(value, str) else value
    return dataclasses.replace(config, **changes)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """A finished run: its config, its results and where they came from."""

    name: str
    preset: str
    config: dict[str, Any]
    results: dict[str, Any]
    provenance: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.results[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.name,
            "preset": self.preset,
            "config": self.config,
            "results": self.results,
            "provenance": self.provenance,
        }

    def save(self, out_dir: Path) -> Path:
        """Write ``<name>_<preset>_seed<seed>.json`` (and a CSV per table) atomically into ``out_dir``."""
        out_dir = Path(out_dir)
        stem = f"{self.name}_{self.preset}_seed{self.provenance['seed']}"
        path = out_dir / f"{stem}.json"
        atomic_write_json(path, self.to_dict())
        for key, rows in self.results.items():
            if _is_table(rows):
                atomic_write_text(out_dir / f"{stem}_{key}.csv", _table_to_csv(rows))
        return path


def _is_table(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(r, dict) for r in value)
        and all(not isinstance(v, (list, dict)) for r in value for v in r.values())
    )


def _table_to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def run_experiment(
    name: str,
    *,
    preset: str = "quick",
    device: str | torch.device = "auto",
    seed: int = 0,
    out: str | Path | None = None,
    progress: bool | None = None,
    overrides: Mapping[str, Any] | None = None,
    resume: bool = True,
) -> RunResult:
    """Run experiment ``name`` with a preset, optionally overriding config fields.

    A config with a ``cpu_threads`` field > 0 runs on that many torch threads
    when on the CPU (small tensors run faster on one thread than on several
    competing ones); the previous thread count is restored afterwards.

    ``progress=None`` draws progress bars unless the environment variable
    ``MAXENTRL_PROGRESS`` is ``0`` (the book build and the tests set it).

    With ``out`` the result is written atomically to ``out`` and the run keeps
    a checkpoint there (``<stem>.ckpt``) that a re-run resumes from (unless
    ``resume=False``); the checkpoint is removed once the result is written.
    """
    experiment = get_experiment(name)
    if preset not in experiment.presets:
        raise ConfigError(f"unknown preset {preset!r} for {name} (choose from {', '.join(experiment.presets)})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    config = apply_overrides(experiment.presets[preset], overrides or {})
    dev = resolve_device(device)
    checkpoint = None
    if out is not None:
        checkpoint = Path(out) / f"{name}_{preset}_seed{seed}.ckpt"
        if not resume:
            checkpoint.unlink(missing_ok=True)
    if progress is None:
        progress = os.environ.get("MAXENTRL_PROGRESS", "1") != "0"
    ctx = RunContext(device=dev, seed=seed, progress=progress, checkpoint_path=checkpoint)
    commit = git_commit()  # the code that runs is the code checked out now, not at the end
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    cpu_threads = getattr(config, "cpu_threads", 0)
    if dev.type == "cpu" and cpu_threads > 0:
        torch.set_num_threads(cpu_threads)
    start = time.perf_counter()
    try:
        results = experiment.run(config, ctx)
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - start
    result = RunResult(
        name=name,
        preset=preset,
        config=to_jsonable(config),
        results=to_jsonable(results),
        provenance=collect_provenance(device=dev, seed=seed, preset=preset, wall_time_s=wall, commit=commit),
    )
    if out is not None:
        result.save(Path(out))
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    return result


def committed_result(name: str, *, preset: str = "full", seed: int = 0) -> RunResult | None:
    """The result of ``name``/``preset``/``seed`` committed under ``data/results/<name>/``, or ``None``.

    Chapters plot these (full-preset runs, made on a GPU where one was lent)
    beside the quick run they execute.
    """
    from maxentrl.paths import data_dir

    try:
        path = data_dir() / "results" / name / f"{name}_{preset}_seed{seed}.json"
    except FileNotFoundError:
        return None
    return load_result(path) if path.is_file() else None


def load_result(path: str | Path) -> RunResult:
    """Read a result file written by :meth:`RunResult.save`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return RunResult(
        name=data["experiment"],
        preset=data["preset"],
        config=data["config"],
        results=data["results"],
        provenance=data["provenance"],
    )
