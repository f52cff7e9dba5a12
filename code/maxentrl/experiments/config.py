"""Experiment configs: frozen dataclasses whose every field declares what it accepts.

A chapter's config subclasses :class:`ExperimentConfig` and declares each field
with :func:`bounded` (numbers and tuples of numbers) or :func:`choice` (strings),
so that every field of every experiment is checked the same way, before any
compute starts, however it was set (a preset, ``--set FIELD=VALUE`` or code)::

    @dataclass(frozen=True)
    class Ch02Config(ExperimentConfig):
        n_states: int = bounded(6, 2, 256)
        '''S, the number of states of the random MDPs.'''

        gamma_range: tuple[float, float] = bounded((0.5, 0.99), 0.0, 1.0, open_low=True, open_high=True, ordered=True)
        '''Each MDP's discount is drawn uniformly from this range.'''

        def check(self) -> None:  # relations between fields, if any
            ...

What is checked for each field, from its type hint and its declaration:

* ``bool``: a real boolean; ``int``: an integer (not a boolean) within bounds;
  ``float``: a finite number within bounds (NaN and ±inf are refused);
* ``tuple[X, ...]``: a non-empty tuple (unless ``min_len=0``) of such items,
  each within the bounds, of at most ``max_len`` items; ``tuple[X, X]``: exactly
  that many items; ``ordered=True``: items non-decreasing;
* ``str`` declared with :func:`choice`: one of the choices; ``tuple[str, ...]``
  declared with :func:`choice` and a tuple default: a tuple of choices.

Errors are :class:`~maxentrl.errors.ConfigError` with a one-line message naming the field.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from maxentrl.errors import ConfigError

__all__ = ["ExperimentConfig", "Bounds", "bounded", "choice", "validate_config", "parse_field"]

_META = "maxentrl.bounds"


@dataclass(frozen=True)
class Bounds:
    """What a numeric field (or each item of a tuple field) accepts."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    min_len: int = 1
    max_len: int | None = None
    ordered: bool = False
    choices: tuple[str, ...] | None = None

    def describe(self) -> str:
        """The accepted range as text: ``[2, 256]``, ``(0, 1)``, ``> 0``."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return "any value"

    def admits(self, x: float) -> bool:
        if self.low is not None and (x <= self.low if self.open_low else x < self.low):
            return False
        if self.high is not None and (x >= self.high if self.open_high else x > self.high):
            return False
        return True


def bounded(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    min_len: int = 1,
    max_len: int | None = None,
    ordered: bool = False,
) -> Any:
    """A dataclass field whose value (or each item, for a tuple) lies in ``[low, high]``.

    ``open_low``/``open_high`` exclude the end points; ``min_len``/``max_len``
    bound a tuple's length; ``ordered`` asks a tuple's items to be non-decreasing.
    """
    bounds = Bounds(low, high, open_low, open_high, min_len, max_len, ordered)
    return dataclasses.field(default=default, metadata={_META: bounds})


def choice(default: str | tuple[str, ...], *choices: str, max_len: int | None = None) -> Any:
    """A string field that takes one of ``choices``; or, with a tuple default, a tuple of them (at most ``max_len``)."""
    items = default if isinstance(default, tuple) else (default,)
    if not items or any(item not in choices for item in items):
        raise TypeError(f"default {default!r} is not among the choices {choices}")
    return dataclasses.field(default=default, metadata={_META: Bounds(choices=tuple(choices), max_len=max_len)})


def _item_type(hint: Any) -> tuple[type, int | None]:
    """``(item type, fixed length or None)`` of a ``tuple[...]`` hint."""
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return args[0], None
    if args and all(a == args[0] for a in args):
        return args[0], len(args)
    raise TypeError(f"unsupported tuple hint {hint!r}: use tuple[X, ...] or tuple[X, X, ...]")


def _check_scalar(name: str, kind: type, value: Any, bounds: Bounds) -> None:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        if bounds.choices is not None and value not in bounds.choices:
            raise ConfigError(f"{name} must be {bounds.describe()}, got {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if not bounds.admits(value):
        raise ConfigError(f"{name} must lie in {bounds.describe()}, got {value!r}")


def validate_config(config: Any) -> None:
    """Check every field of the dataclass ``config`` against its type hint and declaration."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        bounds = field.metadata.get(_META)
        hint = hints[field.name]
        value = getattr(config, field.name)
        if bounds is None:
            raise TypeError(f"{type(config).__name__}.{field.name} declares no bounds (use bounded() or choice())")
        if typing.get_origin(hint) is tuple:
            kind, length = _item_type(hint)
            if not isinstance(value, tuple):
                raise ConfigError(f"{field.name} must be a tuple of values, got {value!r}")
            if length is not None and len(value) != length:
                raise ConfigError(f"{field.name} takes exactly {length} values, got {len(value)}: {value!r}")
            if len(value) < bounds.min_len:
                raise ConfigError(f"{field.name} takes at least {bounds.min_len} value(s), got {len(value)}")
            if bounds.max_len is not None and len(value) > bounds.max_len:
                raise ConfigError(f"{field.name} takes at most {bounds.max_len} values, got {len(value)}")
            for item in value:
                _check_scalar(field.name, kind, item, bounds)
            if bounds.ordered and any(a > b for a, b in zip(value, value[1:])):
                raise ConfigError(f"{field.name} must be in increasing order, got {value!r}")
        else:
            _check_scalar(field.name, hint, value, bounds)


@dataclass(frozen=True)
class ExperimentConfig:
    """Base of the chapters' frozen config dataclasses: every field is checked on construction.

    Subclasses declare fields with :func:`bounded`/:func:`choice` and put checks
    that relate several fields in :meth:`check`.
    """

    def __post_init__(self) -> None:
        validate_config(self)
        self.check()

    def check(self) -> None:
        """Relations between fields (override); raise :class:`ConfigError` with one line."""


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _parse_scalar(name: str, kind: type, text: str) -> Any:
    text = text.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"cannot read {text!r} as true/false for field {name!r}")
    if kind is str:  # a quoted string ('a' or "a", as repr writes it) reads as its content
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"cannot read {text!r} as {kind.__name__} for field {name!r}") from None
    if kind is int:
        if not math.isfinite(number) or number != int(number):
            raise ConfigError(f"cannot read {text!r} as int for field {name!r}")
        try:
            return int(text)
        except ValueError:  # "1e3": an integral float written in exponent form
            return int(number)
    return number


def parse_field(config_type: type, name: str, text: str) -> Any:
    """Parse ``text`` (from ``--set name=text``) as the type of field ``name`` of ``config_type``.

    Tuples are comma-separated (``0.1,1,10``). The value is not range-checked
    here; constructing the config does that.
    """
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    if name not in fields:
        raise ConfigError(f"{config_type.__name__} has no field {name!r} (fields: {', '.join(fields)})")
    hint = typing.get_type_hints(config_type)[name]
    if typing.get_origin(hint) is tuple:
        kind, length = _item_type(hint)
        items = [t for t in text.split(",")]
        if text.strip() == "":
            items = []
        if any(t.strip() == "" for t in items):
            raise ConfigError(f"field {name!r} takes comma-separated values without gaps, got {text!r}")
        if length is not None and len(items) != length:
            raise ConfigError(f"field {name!r} takes exactly {length} comma-separated values, got {len(items)} in {text!r}")
        return tuple(_parse_scalar(name, kind, t) for t in items)
    return _parse_scalar(name, hint, text)
