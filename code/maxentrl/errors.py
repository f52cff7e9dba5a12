"""The one exception type for bad input the user can fix."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class ConfigError(ValueError):
    """Bad input (an option, a config field, an argument) described in one line."""


def require_positive(name: str, value: float) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number > 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be positive and finite, got {value!r}")


def require_int_at_least(name: str, value: int, lower: int) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer >= ``lower``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < lower:
        raise ConfigError(f"{name} must be an integer >= {lower}, got {value!r}")


def require_in_interval(name: str, value: float, low: float, high: float, *, closed: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``low < value < high`` (or ``<=`` with ``closed``)."""
    ok = (low <= value <= high) if closed else (low < value < high)
    if not ok:
        brackets = "[]" if closed else "()"
        raise ConfigError(f"{name} must lie in {brackets[0]}{low}, {high}{brackets[1]}, got {value!r}")


def require_finite(name: str, x: torch.Tensor, *, allow_neg_inf: bool = False) -> None:
    """Raise :class:`ConfigError` if the tensor ``x`` holds NaN or ±inf (−inf allowed with ``allow_neg_inf``)."""
    import torch

    bad = torch.isnan(x) | (torch.isposinf(x) if allow_neg_inf else ~torch.isfinite(x))
    if bool(bad.any()):
        what = "NaN or +inf" if allow_neg_inf else "NaN or infinite"
        raise ConfigError(f"{name} holds {what} values ({int(bad.sum())} of {x.numel()})")


def require_shape(name: str, x: torch.Tensor, shape: tuple[int, ...], *, meaning: str = "") -> None:
    """Raise :class:`ConfigError` unless ``x.shape == shape`` (``meaning`` names the axes, e.g. ``"[b, S]"``)."""
    if tuple(x.shape) != tuple(shape):
        axes = f" {meaning} =" if meaning else ""
        raise ConfigError(f"{name} must have shape{axes} {tuple(shape)}, got {tuple(x.shape)}")


def require_indices(name: str, index: int | torch.Tensor, size: int) -> None:
    """Raise :class:`ConfigError` unless every index is an integer in ``[0, size)`` (no wrap-around of negatives)."""
    import torch

    if isinstance(index, torch.Tensor):
        if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
            raise ConfigError(f"{name} must hold integer indices, got dtype {index.dtype}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= size):
            raise ConfigError(f"{name} must lie in [0, {size}), got values from {int(index.min())} to {int(index.max())}")
        return
    if isinstance(index, bool) or not isinstance(index, int):
        raise ConfigError(f"{name} must be an integer index, got {index!r}")
    if not 0 <= index < size:
        raise ConfigError(f"{name} must lie in [0, {size}), got {index}")
