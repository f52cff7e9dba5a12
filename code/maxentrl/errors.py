"""The one exception type for bad input the user can fix."""

from __future__ import annotations

import math


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
