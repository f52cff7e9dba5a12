"""Input checks shared by the IRL modules: every public function refuses bad shapes, indices and
non-finite numbers with a one-line :class:`~maxentrl.errors.ConfigError` before it computes."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least


def tensor(name: str, x) -> Tensor:
    """``x`` as a tensor (anything ``torch.as_tensor`` takes), or a ConfigError."""
    if isinstance(x, Tensor):
        return x
    try:
        return torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"{name} must be a tensor or a sequence of numbers, got {type(x).__name__}") from None


def finite(name: str, x: Tensor) -> Tensor:
    """``x`` unchanged if every entry is finite."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ConfigError(f"{name} must be finite (it holds NaN or inf)")
    return x


def shape(name: str, x: Tensor, expected: tuple) -> Tensor:
    """``x`` unchanged if its shape matches ``expected`` (``None`` entries match any size)."""
    ok = x.ndim == len(expected) and all(e is None or int(s) == e for s, e in zip(x.shape, expected))
    if not ok:
        want = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise ConfigError(f"{name} must have shape {want}, got {list(x.shape)}")
    return x


def theta(name: str, x, num_features: int) -> Tensor:
    """A finite ``[K]`` weight vector."""
    t = tensor(name, x)
    if not t.is_floating_point():
        t = t.double()
    return finite(name, shape(name, t, (num_features,)))


def indices(name: str, x, upper: int, *, ndim: int | None = 1) -> Tensor:
    """Integer indices in ``[0, upper)`` as a long tensor (a scalar is taken as one index)."""
    t = tensor(name, x)
    if t.numel() == 0:
        t = t.long()
    if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
        raise ConfigError(f"{name} must hold integer indices, got dtype {t.dtype}")
    t = t.long()
    if ndim == 1:
        t = t.reshape(-1)
    elif ndim is not None and t.ndim != ndim:
        raise ConfigError(f"{name} must be {ndim}-dimensional, got shape {list(t.shape)}")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= upper):
        raise ConfigError(f"{name} must lie in [0, {upper}), got values from {int(t.min())} to {int(t.max())}")
    return t


def distribution(name: str, x: Tensor, rows: int, num_states: int) -> Tensor:
    """A finite, non-negative ``[rows, S]`` start distribution (or sum of distributions)."""
    t = finite(name, shape(name, tensor(name, x), (rows, num_states)))
    if bool((t < 0).any()):
        raise ConfigError(f"{name} must be non-negative")
    return t


def horizon(x) -> None:
    require_int_at_least("horizon", x, 1)


def tolerance(x) -> None:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x) or x < 0:
        raise ConfigError(f"tol must be a finite number >= 0, got {x!r}")
