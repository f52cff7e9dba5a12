"""Choosing the device: ``auto`` means CUDA when present, else the CPU."""

from __future__ import annotations

import platform

import torch

from maxentrl.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a :class:`torch.device`.

    ``"auto"`` picks the first CUDA device when one is available. Asking for
    CUDA on a machine without it is a :class:`ConfigError`, not a silent fallback.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ConfigError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {spec!r}")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec!r} was requested but no CUDA GPU is available (use --device auto or cpu)")
        index = spec.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(f"device {spec!r}: this machine has CUDA devices 0..{torch.cuda.device_count() - 1}")
        return torch.device(spec)
    raise ConfigError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {spec!r}")


def device_name(device: torch.device) -> str:
    """A human-readable name of the hardware behind ``device`` (for provenance)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU ({cpu}, {threads} thread{'s' if threads != 1 else ''})"
