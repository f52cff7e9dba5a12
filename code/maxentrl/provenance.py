"""Provenance of a run and atomic result files."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import maxentrl
from maxentrl.device import device_name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes private files; results are meant to be read by others.
_FILE_MODE = 0o666 & ~_umask()


def git_commit(cwd: Path | None = None) -> str:
    """The checkout's commit, suffixed ``+dirty`` when tracked files differ.

    The environment variable ``MAXENTRL_COMMIT``, when set, is taken as it
    is: whoever copied the repository to another machine names the commit
    the copy was made from (a ``.git`` folder that travelled with it may be
    older than the files). Otherwise, outside a git checkout, ``unknown``.
    """
    stated = os.environ.get("MAXENTRL_COMMIT", "").strip()
    if stated:
        return stated
    here = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def collect_provenance(
    *, device: torch.device, seed: int, preset: str, wall_time_s: float, commit: str | None = None,
    device_label: str | None = None,
) -> dict[str, Any]:
    """Everything needed to say where a number came from.

    ``commit`` is the checkout's commit as read when the run *started* (pass
    :func:`git_commit` then); left out, it is read now. ``device_label`` is
    :func:`maxentrl.device.device_name` as read while the run computed (a
    CPU's thread count is the run's, not the caller's); left out, it is read now.
    """
    return {
        "preset": preset,
        "seed": seed,
        "device": str(device),
        "device_name": device_label if device_label is not None else device_name(device),
        "maxentrl_version": maxentrl.__version__,
        "torch_version": torch.__version__,
        "torch_cpu_kernels": torch.backends.cpu.get_cpu_capability(),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit if commit is not None else git_commit(),
        "wall_time_s": round(wall_time_s, 3),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": _command_line(),
    }


def _command_line() -> str:
    """How this process was started, without the machine's paths (``python -m pkg.mod args``)."""
    if not sys.argv or not sys.argv[0]:
        return ""
    program = Path(sys.argv[0]).resolve()
    source_root = Path(__file__).resolve().parents[1]  # the folder that holds maxentrl/
    if program.name == "__main__.py" and program.is_relative_to(source_root):
        head = "python -m " + ".".join(program.parent.relative_to(source_root).parts)
    else:
        head = program.name
    return " ".join([head, *(_without_machine_path(arg) for arg in sys.argv[1:])])


def _without_machine_path(arg: str) -> str:
    """An absolute path argument as a path relative to the working directory, or as ``<dir>/name`` outside it."""
    if not arg.startswith("/"):
        return arg
    path = Path(arg)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return f"<dir>/{path.name}"


def to_jsonable(obj: Any) -> Any:
    """Tensors, arrays, dataclasses, tuples and paths to plain JSON types."""
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and obj != obj:  # NaN is not JSON; keep it visible
        return None
    return obj


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON version of :func:`atomic_write_text` (indented, keys in insertion order)."""
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=1) + "\n")


def atomic_torch_save(path: Path, obj: Any) -> None:
    """``torch.save`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, _FILE_MODE)
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
