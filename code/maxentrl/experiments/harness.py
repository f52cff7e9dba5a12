"""The experiment harness every chapter uses.

An experiment is a frozen config dataclass (an :class:`~maxentrl.experiments.config.ExperimentConfig`),
a ``quick`` and a ``full`` preset of it, and a function ``run(config, ctx) -> dict``
that computes the chapter's claims. The harness adds what every run needs and
no chapter should write again: device choice, seeding, progress bars,
checkpoints that resume exactly, provenance and atomic result files.

Resuming
--------
``run`` splits its work into named *stages* (``ctx.stage("C1.4", fn)``). A
finished stage's result is kept in the run's checkpoint, so a resumed run
skips it. Inside a long loop, a stage saves its loop state now and then::

    def train(config, ctx):
        g = ctx.generator(4)                       # seeded; its state is checkpointed for you
        net, opt = make_net(), make_optimizer()    # build everything first ...
        state = ctx.restored() or {"step": 0, "curve": []}   # ... then restore
        if state["step"]:
            net.load_state_dict(state["net"]); opt.load_state_dict(state["opt"])
        for step in ctx.bar(range(state["step"], config.steps), total=config.steps, initial=state["step"]):
            ...                                    # one step, drawing from g only
            if ctx.checkpoint_due():
                ctx.checkpoint({"step": step + 1, "curve": curve, "net": net.state_dict(), "opt": opt.state_dict()})
        return {"curve": curve}

The checkpoint holds the loop state plus, saved by the harness, the state of
every generator from :meth:`RunContext.generator` and of the global torch,
NumPy and Python generators; :meth:`RunContext.restored` puts them back. A run
killed at any moment (SIGTERM, SIGKILL) and started again with the same
command and output folder therefore ends with the same result files, byte for
byte, as an uninterrupted run. ``time_limit`` (``--time-limit``) and SIGTERM
make a run save a checkpoint at its next opportunity and stop with
:class:`RunSuspended`; the command line then exits with status 75.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import hashlib
import io
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maxentrl.device import device_name, resolve_device
from maxentrl.errors import ConfigError
from maxentrl.experiments.config import parse_field
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
    "RunSuspended",
    "REGISTRY",
    "register",
    "get_experiment",
    "run_experiment",
    "load_result",
    "committed_result",
    "apply_overrides",
    "request_stop",
    "result_stem",
    "merge_checkpoints",
]

PRESETS = ("quick", "full")
SEED_LIMIT = 2**32
"""Seeds are integers in ``[0, SEED_LIMIT)``."""
CHECKPOINT_FORMAT = 1
DEFAULT_CHECKPOINT_EVERY = 60.0
"""Seconds between loop checkpoints unless ``checkpoint_every`` (or ``MAXENTRL_CHECKPOINT_EVERY``) says otherwise."""

_STOP = threading.Event()


def request_stop() -> None:
    """Ask every running experiment to checkpoint at its next opportunity and stop (a SIGTERM handler calls this)."""
    _STOP.set()


class RunSuspended(Exception):
    """The run stopped early (time limit or a stop request) after saving a checkpoint; run it again to continue."""


def _progress_bar_class(enabled: bool) -> type:
    """tqdm's notebook bar where it can draw (ipywidgets present), the plain one elsewhere or when disabled."""
    from tqdm.std import tqdm as plain

    if not enabled:
        return plain
    try:
        import ipywidgets  # noqa: F401

        from tqdm.auto import tqdm as auto
    except ImportError:
        return plain
    return auto


def _rng_snapshot(generators: Mapping[int, torch.Generator]) -> dict[str, Any]:
    """States of the run's generators and of the global torch, CUDA, NumPy and Python generators."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return {
        "generators": {k: g.get_state() for k, g in generators.items()},
        "torch": torch.get_rng_state(),
        "cuda": cuda,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


class RunContext:
    """What a running experiment may use besides its config.

    Attributes:
        device: where tensors live (``auto`` already resolved).
        seed: the run's seed; derive every generator from it with :meth:`generator`.
        progress: whether to draw progress bars.
        timings: seconds spent per stage (filled by the harness; experiments may
            add entries). They go to the provenance file, never to the results.
    """

    def __init__(
        self,
        *,
        device: torch.device,
        seed: int,
        progress: bool = True,
        checkpoint_path: Path | None = None,
        checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
        deadline: float | None = None,
        header: Mapping[str, Any] | None = None,
        saved: Mapping[str, Any] | None = None,
        only: frozenset[str] | None = None,
    ) -> None:
        self.device = device
        self.seed = seed
        self.progress = progress
        self.timings: dict[str, float] = dict((saved or {}).get("timings", {}))
        self._path = checkpoint_path
        self._every = checkpoint_every
        self._deadline = deadline
        self._header = dict(header or {})
        self._generators: dict[int, torch.Generator] = {}
        self._done: dict[str, Any] = dict((saved or {}).get("done", {}))
        self._done_rng: dict[str, Any] = dict((saved or {}).get("done_rng", {}))
        self._current_saved: dict[str, Any] | None = (saved or {}).get("current")
        self._segments: list[dict[str, Any]] = list((saved or {}).get("segments", []))
        self._stage: str | None = None
        self._first_opportunity = True
        self._stage_started = 0.0
        self._stage_elapsed_before = 0.0
        self._seen: set[str] = set()
        self._only = only
        self.deferred: list[str] = []
        """Stages this process left to others (``only``): each returned an empty dict."""
        self._last_write = time.monotonic()
        self._segment = {"started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                         "commit": self._header.get("commit", "unknown"), "wall_time_s": 0.0}
        self._segment_start = time.perf_counter()

    # -- randomness ---------------------------------------------------------
    def generator(self, stream: int = 0) -> torch.Generator:
        """The run's ``torch.Generator`` for ``stream``, on :attr:`device`, seeded by ``(seed, stream)``.

        Separate streams keep independent parts of an experiment reproducible
        on their own (changing one part's sample count does not shift another's).
        The same stream returns the same generator object; its state is
        checkpointed and restored by the harness.
        """
        if stream not in self._generators:
            g = torch.Generator(device=self.device)
            g.manual_seed(self.seed * 1_000_003 + stream)
            self._generators[stream] = g
        return self._generators[stream]

    def _restore_rng(self, snapshot: Mapping[str, Any]) -> None:
        # generator states are CPU byte tensors, even when a checkpoint was loaded onto a GPU
        for stream, state in snapshot["generators"].items():
            self.generator(int(stream)).set_state(state.cpu())
        torch.set_rng_state(snapshot["torch"].cpu())
        if snapshot["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([state.cpu() for state in snapshot["cuda"]])
        np.random.set_state(snapshot["numpy"])
        random.setstate(snapshot["python"])

    # -- progress -------------------------------------------------------------
    def bar(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", initial: int = 0):
        """A tqdm progress bar, silent when :attr:`progress` is off (``initial``: steps already done before a resume)."""
        cls = _progress_bar_class(self.progress)
        return cls(iterable, total=total, desc=desc, initial=initial, disable=not self.progress, leave=False,
                   dynamic_ncols=True)

    # -- stages and checkpoints ---------------------------------------------
    @property
    def checkpointing(self) -> bool:
        """Whether this run keeps a checkpoint (it does when it writes its results to a folder)."""
        return self._path is not None

    def stage(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run one named stage of the experiment, or return its result if a resumed run finished it already.

        While ``fn`` runs, :meth:`restored` and :meth:`checkpoint` refer to this
        stage. Its result must be something ``torch.save`` takes (numbers,
        lists, dicts, tensors). Stage names are unique within a run.
        """
        if self._stage is not None:
            raise RuntimeError(f"stage {name!r} started inside stage {self._stage!r}")
        if name in self._seen:
            raise RuntimeError(f"stage {name!r} run twice")
        self._seen.add(name)
        if name in self._done:
            self._restore_rng(self._done_rng[name])
            return self._done[name]
        if self._only is not None and name not in self._only:
            self.deferred.append(name)
            return {}
        self._stage = name
        self._stage_elapsed_before = 0.0
        if self._current_saved is not None and self._current_saved["stage"] == name:
            self._stage_elapsed_before = self._current_saved.get("elapsed_s", 0.0)
        self._stage_started = time.perf_counter()
        self._first_opportunity = True
        try:
            result = fn()
        finally:
            self._stage = None
        self.timings[f"stage {name}"] = round(self._stage_elapsed_before + time.perf_counter() - self._stage_started, 3)
        self._done[name] = result
        self._done_rng[name] = _rng_snapshot(self._generators)
        self._current_saved = None
        if self.checkpointing:
            self._write(current=None)
            self._stop_if_asked()
        return result

    def restored(self) -> Any | None:
        """The loop state this stage saved before the run was interrupted, or ``None`` on a fresh start.

        Call it after building everything the loop needs (networks, optimizers,
        generators): it also puts back the generators' states saved with the
        checkpoint, so the loop continues the same random streams.
        """
        if self._stage is None:
            raise RuntimeError("restored() is called inside a stage")
        saved = self._current_saved
        if saved is None or saved["stage"] != self._stage:
            return None
        self._restore_rng(saved["rng"])
        self._current_saved = None
        return saved["state"]

    def checkpoint_due(self) -> bool:
        """Whether the loop should call :meth:`checkpoint` now (interval elapsed, time limit reached or stop asked).

        The first opportunity of a stage (after a start or a resume) is never
        due, so that every command makes progress however short its time limit.
        """
        if self._path is None:
            return False
        if self._first_opportunity:
            self._first_opportunity = False
            return False
        now = time.monotonic()
        return now - self._last_write >= self._every or _STOP.is_set() or (self._deadline is not None and now >= self._deadline)

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        """Save this stage's loop ``state`` (plus every generator's state); stop the run if asked to.

        ``state`` must hold everything the rest of the loop depends on: counters,
        tensors, optimizer and network ``state_dict()``\\ s, replay buffers and the
        partial results. Raises :class:`RunSuspended` after saving when the time
        limit is reached or a stop was requested.
        """
        if self._stage is None:
            raise RuntimeError("checkpoint() is called inside a stage")
        if self._path is None:
            return
        elapsed = self._stage_elapsed_before + time.perf_counter() - self._stage_started
        self._write(current={"stage": self._stage, "state": dict(state), "rng": _rng_snapshot(self._generators),
                             "elapsed_s": elapsed})
        self._stop_if_asked()

    def _stop_if_asked(self) -> None:
        if _STOP.is_set():
            raise RunSuspended("stopped on request")
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise RunSuspended("time limit reached")

    def record_device(self, name: str) -> None:
        """Name the hardware this process runs the experiment on (its segment keeps it: a run resumed elsewhere,
        or split over processes, says where each part ran)."""
        self._segment["device_name"] = name

    def segments(self) -> list[dict[str, Any]]:
        """The run's segments (one per command that worked on it), this one last, with their wall times."""
        segment = dict(self._segment, wall_time_s=round(time.perf_counter() - self._segment_start, 3))
        return [*self._segments, segment]

    def _write(self, *, current: dict[str, Any] | None) -> None:
        assert self._path is not None
        payload = {
            **self._header,
            "done": self._done,
            "done_rng": self._done_rng,
            "current": current,
            "segments": self.segments(),
            "timings": self.timings,
        }
        atomic_torch_save(self._path, payload)
        self._last_write = time.monotonic()


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
        smoke: ``--set`` overrides (field → text) that shrink the quick preset to a
            run of a few seconds that still passes through every stage and every
            checkpointed loop; the resume tests kill and restart such runs.
        stage_names: the run's stages in order, declared by experiments whose
            stages are independent (each draws only from its own generator
            streams and returns a dict): only these can be split over several
            processes (``stages=`` of :func:`run_experiment`, then
            :func:`merge_checkpoints`).
    """

    name: str
    chapter: int
    summary: str
    config_type: type
    presets: Mapping[str, Any]
    run: Callable[[Any, RunContext], dict]
    smoke: Mapping[str, str] = dataclasses.field(default_factory=dict)
    stage_names: tuple[str, ...] = ()

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


def apply_overrides(config: Any, overrides: Mapping[str, Any]) -> Any:
    """``dataclasses.replace`` with checks; string values are parsed to the field's type.

    The new config is validated as a whole (every field, then the relations
    between fields), so a bad value is a one-line :class:`ConfigError`.
    """
    if not overrides:
        return config
    changes = {}
    for key, value in overrides.items():
        parsed = parse_field(type(config), key, value) if isinstance(value, str) else value
        changes[key] = parsed
    try:
        return dataclasses.replace(config, **changes)
    except TypeError as err:  # a value of the wrong kind that slipped past parsing
        raise ConfigError(str(err).splitlines()[0]) from None


def result_stem(name: str, preset: str, seed: int) -> str:
    """The common stem of a run's files: ``<name>_<preset>_seed<seed>``."""
    return f"{name}_{preset}_seed{seed}"


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

    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The result file's content: what was run and what came out (no timings, dates or machine names)."""
        return {
            "experiment": self.name,
            "preset": self.preset,
            "seed": self.seed,
            "config": self.config,
            "results": self.results,
        }

    def save(self, out_dir: Path) -> Path:
        """Write the run's files atomically into ``out_dir`` and return the result file's path.

        ``<stem>.json`` holds config and results only, so two runs with the same
        seed on the same device give byte-identical files; a CSV per table
        (``<stem>_<key>.csv``) likewise; ``<stem>.provenance.json`` holds where
        and when it ran. The result file is written last.
        """
        out_dir = Path(out_dir)
        stem = result_stem(self.name, self.preset, self.seed)
        for key, rows in self.results.items():
            if _is_table(rows):
                atomic_write_text(out_dir / f"{stem}_{key}.csv", _table_to_csv(rows))
        atomic_write_json(out_dir / f"{stem}.provenance.json", self.provenance)
        path = out_dir / f"{stem}.json"
        atomic_write_json(path, self.to_dict())
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


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"seed must be an integer in [0, {SEED_LIMIT - 1}], got {seed!r}")
    return seed


def _prepare_out(out: Path) -> None:
    """Make sure results can be written into ``out`` (created if missing) before any compute."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder {out}: {err.strerror or err}") from None
    try:
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"cannot write into the output folder {out}: {err.strerror or err}") from None


def _remove_stale_temporaries(out: Path, stem: str) -> None:
    """Delete temporary files a killed run of ``stem`` may have left behind (atomic writes in flight)."""
    for leftover in out.glob(f".{stem}*.tmp"):
        leftover.unlink(missing_ok=True)


def _clean_commit(commit: str) -> bool:
    return commit not in ("", "unknown") and not commit.endswith("+dirty")


def _load_checkpoint(path: Path, header: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """Read and vet a checkpoint: it must belong to this very run (experiment, preset, seed, config, device)."""
    try:
        saved = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # a truncated or foreign file: say so in one line
        raise ConfigError(f"cannot read the checkpoint {path} ({type(err).__name__}); remove it or run with --fresh") from None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a checkpoint of this version of the harness; remove it or run with --fresh")
    for key in ("experiment", "preset", "seed", "device_type"):
        if saved.get(key) != header[key]:
            raise ConfigError(f"the checkpoint {path} belongs to another run ({key} {saved.get(key)!r}, "
                              f"not {header[key]!r}); use another --out or --fresh")
    if saved.get("config") != header["config"]:
        differ = sorted(k for k in header["config"] if saved.get("config", {}).get(k) != header["config"][k])
        raise ConfigError(f"the checkpoint {path} was made with a different config (fields: {', '.join(differ)}); "
                          "resume with the same settings or use --fresh")
    old = saved.get("commit", "unknown")
    if _clean_commit(old) and _clean_commit(header["commit"]) and old != header["commit"]:
        raise ConfigError(f"the checkpoint {path} was written by commit {old[:12]}, this checkout is "
                          f"{header['commit'][:12]}: resume with the same code, or use --fresh")
    return saved


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
    checkpoint_every: float | None = None,
    time_limit: float | None = None,
    stages: Iterable[str] | None = None,
) -> RunResult:
    """Run experiment ``name`` with a preset, optionally overriding config fields.

    Every input is checked before any compute starts: the experiment and
    preset names, the seed, each overridden field, the device, the output
    folder and, when resuming, the checkpoint's fit to this run.

    A config with a ``cpu_threads`` field > 0 runs on that many torch threads
    when on the CPU (small tensors run faster on one thread than on several
    competing ones); the previous thread count is restored afterwards.

    ``progress=None`` draws progress bars unless the environment variable
    ``MAXENTRL_PROGRESS`` is ``0`` (the book build and the tests set it).

    With ``out`` the result files are written atomically into that folder and
    the run keeps a checkpoint there (``<stem>.ckpt``), saved after each stage
    and every ``checkpoint_every`` seconds inside long loops (default
    ``MAXENTRL_CHECKPOINT_EVERY`` or 60; 0 saves at every opportunity). A
    re-run with the same arguments resumes from it (unless ``resume=False``);
    it is removed once the results are written. ``time_limit`` (seconds, needs
    ``out``) stops the run with :class:`RunSuspended` after a checkpoint once
    that much time has passed.

    ``stages`` (needs ``out``, and an experiment that declares its
    ``stage_names``) runs only those of the run's unfinished stages and then
    stops with :class:`RunSuspended`, keeping them in the checkpoint: several
    processes can each run a part of one run, in folders of their own, and
    :func:`merge_checkpoints` joins their checkpoints into one, from which a
    last call without ``stages`` writes the results.
    """
    experiment = get_experiment(name)
    if preset not in experiment.presets:
        raise ConfigError(f"unknown preset {preset!r} for {name} (choose from {', '.join(experiment.presets)})")
    seed = _check_seed(seed)
    config = apply_overrides(experiment.presets[preset], overrides or {})
    dev = resolve_device(device)
    if checkpoint_every is None:
        env = os.environ.get("MAXENTRL_CHECKPOINT_EVERY", "")
        try:
            checkpoint_every = float(env) if env else DEFAULT_CHECKPOINT_EVERY
        except ValueError:
            raise ConfigError(f"MAXENTRL_CHECKPOINT_EVERY must be a number of seconds, got {env!r}") from None
    if not (checkpoint_every >= 0 and checkpoint_every != float("inf")):
        raise ConfigError(f"the checkpoint interval must be a finite number of seconds >= 0, got {checkpoint_every!r}")
    if time_limit is not None:
        if out is None:
            raise ConfigError("a time limit needs an output folder (--out) to keep the checkpoint in")
        if not (time_limit > 0 and time_limit != float("inf")):
            raise ConfigError(f"the time limit must be a positive, finite number of seconds, got {time_limit!r}")
    only = _check_stages(experiment, stages, out)
    if progress is None:
        progress = os.environ.get("MAXENTRL_PROGRESS", "1") != "0"
    stem = result_stem(name, preset, seed)
    header = {
        "format": CHECKPOINT_FORMAT,
        "experiment": name,
        "preset": preset,
        "seed": seed,
        "device_type": dev.type,
        "config": to_jsonable(config),
        "commit": git_commit(),  # the code that runs is the code checked out now, not at the end
    }
    checkpoint, saved = None, None
    if out is not None:
        out = Path(out)
        _prepare_out(out)
        _remove_stale_temporaries(out, stem)
        checkpoint = out / f"{stem}.ckpt"
        if not resume:
            checkpoint.unlink(missing_ok=True)
        elif checkpoint.exists():
            saved = _load_checkpoint(checkpoint, header, dev)
    # only the package's own experiments (their code is in the key), and only runs without an output folder
    cached = out is None and getattr(experiment.run, "__module__", "").startswith("maxentrl.")
    cache = _cache_folder(header) if cached else None
    if cache is not None and (cache / f"{stem}.json").is_file():
        return load_result(cache / f"{stem}.json")
    deadline = None if time_limit is None else time.monotonic() + time_limit
    _STOP.clear()
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    ctx = RunContext(device=dev, seed=seed, progress=progress, checkpoint_path=checkpoint,
                     checkpoint_every=checkpoint_every, deadline=deadline, header=header, saved=saved, only=only)
    threads = torch.get_num_threads()
    cpu_threads = getattr(config, "cpu_threads", 0)
    if dev.type == "cpu" and cpu_threads > 0:
        torch.set_num_threads(cpu_threads)
    ran_on = device_name(dev)  # named while the run's thread count is in force
    ctx.record_device(ran_on)
    try:
        results = experiment.run(config, ctx)
    finally:
        torch.set_num_threads(threads)
    if ctx.deferred:
        ctx._write(current=None)
        raise RunSuspended(f"ran the stages asked for; left to other processes: {', '.join(ctx.deferred)}")
    segments = ctx.segments()
    provenance = collect_provenance(
        device=dev, seed=seed, preset=preset, wall_time_s=sum(s["wall_time_s"] for s in segments),
        commit=header["commit"], device_label=ran_on,
    )
    provenance["segments"] = segments
    provenance["timings"] = ctx.timings
    result = RunResult(name=name, preset=preset, config=to_jsonable(config), results=to_jsonable(results),
                       provenance=provenance, seed=seed)
    if out is not None:
        result.save(out)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    elif cache is not None and not os.environ.get(RESULT_CACHE_READ_ONLY_ENV):
        cache.mkdir(parents=True, exist_ok=True)
        result.save(cache)
    return result


def _check_stages(experiment: Experiment, stages: Iterable[str] | None, out: Any) -> frozenset[str] | None:
    """``stages`` as a set, after checking it names declared stages of ``experiment`` and that the run keeps a checkpoint."""
    if stages is None:
        return None
    only = frozenset(stages)
    if not experiment.stage_names:
        splittable = ", ".join(sorted(n for n, e in REGISTRY.items() if e.stage_names)) or "none"
        raise ConfigError(f"{experiment.name} does not declare its stages, so they cannot be run apart "
                          f"(experiments that can: {splittable})")
    unknown = sorted(only - set(experiment.stage_names))
    if unknown or not only:
        raise ConfigError(f"unknown stage(s) {', '.join(map(repr, unknown)) or '(none given)'} of {experiment.name} "
                          f"(its stages: {', '.join(experiment.stage_names)})")
    if out is None:
        raise ConfigError("running some stages only needs an output folder (--out) to keep them in")
    return only


def merge_checkpoints(paths: Iterable[str | Path], out: str | Path) -> Path:
    """Join checkpoints of one run whose stages were run by separate processes (``stages=``) into ``out``.

    Every checkpoint must belong to the same run (experiment, preset, seed,
    config, device type and commit) and hold no stage in the middle of its
    loop; a stage finished in several of them must have the same result. The
    merged checkpoint keeps every finished stage and every process's
    segment (so the provenance's wall time is the sum of the processes'
    times, not the time the run took); ``run_experiment`` with the same
    arguments and ``out`` as its folder then resumes from it.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ConfigError("merge_checkpoints needs at least one checkpoint")
    merged: dict[str, Any] | None = None
    for path in paths:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            raise ConfigError(f"cannot read the checkpoint {path} ({type(err).__name__})") from None
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{path} is not a checkpoint of this version of the harness")
        if saved.get("current") is not None:
            raise ConfigError(f"{path} holds the stage {saved['current']['stage']!r} in the middle of its loop; "
                              "finish that stage before merging")
        if merged is None:
            merged = {**saved, "done": dict(saved["done"]), "done_rng": dict(saved["done_rng"]),
                      "segments": list(saved["segments"]), "timings": dict(saved.get("timings", {}))}
            continue
        for key in ("experiment", "preset", "seed", "device_type", "config", "commit"):
            if saved.get(key) != merged.get(key):
                raise ConfigError(f"{path} belongs to another run than {paths[0]} (its {key} differs)")
        for stage, result in saved["done"].items():
            if stage in merged["done"] and to_jsonable(merged["done"][stage]) != to_jsonable(result):
                raise ConfigError(f"the stage {stage!r} was finished in two checkpoints with different results")
            merged["done"][stage] = result
            merged["done_rng"][stage] = saved["done_rng"][stage]
        merged["segments"] += saved["segments"]
        merged["timings"].update(saved.get("timings", {}))
    assert merged is not None
    target = Path(out) / f"{result_stem(merged['experiment'], merged['preset'], merged['seed'])}.ckpt"
    _prepare_out(Path(out))
    atomic_torch_save(target, merged)
    return target


RESULT_CACHE_ENV = "MAXENTRL_RESULT_CACHE"
"""Environment variable naming a folder where runs without ``out`` keep their results for reuse.

``make test``, ``make book`` and ``make sync`` set it, so that a quick preset is
computed once per checkout: the claims tests, the notebook tests and the book
build all read the same run instead of computing it three times. A stored run
is reused only by a run with the same experiment, preset, seed, device type,
config, torch version and thread count, on package sources and data files that
hash the same; any edit makes a new run.
"""

RESULT_CACHE_READ_ONLY_ENV = "MAXENTRL_RESULT_CACHE_READ_ONLY"
"""When set (non-empty), runs read ``$MAXENTRL_RESULT_CACHE`` but do not add to it.

The claims tests run this way: they assert on the run the chapter's kernel
stored, and a run they compute themselves (in the test process, whose last
rounding bits may differ from a kernel's) never becomes the run the book and
its Colab notebooks quote.
"""


def _source_digest() -> str:
    """SHA-256 over the package's Python sources and the data files (``data/``, less ``data/results/``)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    files = [(f"code/{p.relative_to(package.parent).as_posix()}", p) for p in sorted(package.rglob("*.py"))]
    try:
        from maxentrl.paths import data_dir

        data = data_dir()
        files += [(f"data/{p.relative_to(data).as_posix()}", p) for p in sorted(data.rglob("*"))
                  if p.is_file() and p.relative_to(data).parts[0] != "results"]
    except FileNotFoundError:
        pass
    for label, path in files:
        digest.update(label.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _cache_folder(header: Mapping[str, Any]) -> Path | None:
    """Where a run with this checkpoint header keeps its result under ``$MAXENTRL_RESULT_CACHE`` (None: no cache)."""
    root = os.environ.get(RESULT_CACHE_ENV, "")
    if not root:
        return None
    key = {k: v for k, v in header.items() if k != "commit"}
    key.update(sources=_source_digest(), torch=torch.__version__, threads=torch.get_num_threads())
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return Path(root) / f"{result_stem(header['experiment'], header['preset'], header['seed'])}-{digest}"


def committed_result(name: str, *, preset: str = "full", seed: int = 0) -> RunResult | None:
    """The result of ``name``/``preset``/``seed`` committed under ``data/results/<name>/``, or ``None``.

    Chapters plot these (full-preset runs, made on a GPU where one was lent)
    beside the quick run they execute.
    """
    from maxentrl.paths import data_dir

    try:
        path = data_dir() / "results" / name / f"{result_stem(name, preset, seed)}.json"
    except FileNotFoundError:
        return None
    return load_result(path) if path.is_file() else None


def load_result(path: str | Path) -> RunResult:
    """Read a result file written by :meth:`RunResult.save` (with its provenance file beside it, if present)."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    prov_path = path.with_name(path.stem + ".provenance.json")
    provenance = json.loads(prov_path.read_text(encoding="utf-8")) if prov_path.is_file() else data.get("provenance", {})
    seed = data.get("seed", provenance.get("seed", 0))
    return RunResult(
        name=data["experiment"],
        preset=data["preset"],
        config=data["config"],
        results=data["results"],
        provenance=provenance,
        seed=seed,
    )
