"""Every field of every experiment's config refuses bad values with one line, before any compute."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from maxentrl.errors import ConfigError
from maxentrl.experiments import apply_overrides, load_all
from maxentrl.experiments.config import Bounds, parse_field, validate_config

EXPERIMENTS = load_all()
FIELDS = [
    (name, field)
    for name, exp in sorted(EXPERIMENTS.items())
    for field in dataclasses.fields(exp.config_type)
]


def _bounds(field: dataclasses.Field) -> Bounds:
    return field.metadata["maxentrl.bounds"]


def _bad_texts(field: dataclasses.Field, hint: typing.Any, default: typing.Any) -> list[str]:
    """Command-line values that the field must refuse, derived from its type and declared bounds."""
    b = _bounds(field)
    is_tuple = typing.get_origin(hint) is tuple
    kind = typing.get_args(hint)[0] if is_tuple else hint
    if kind is bool:
        return ["maybe", "2"]
    if kind is str:
        return ["no-such-choice"] if b.choices else []
    bad_items = ["nan", "inf", "-inf", "abc"]
    if b.low is not None:
        bad_items.append(repr(b.low if b.open_low else (b.low - 1 if kind is int else b.low - abs(b.low) * 0.5 - 1e-3)))
    if b.high is not None:
        bad_items.append(repr(b.high if b.open_high else (b.high + 1 if kind is int else b.high * 2 + 1)))
        bad_items.append("1e308" if kind is float else str(10**30))
    if kind is int:
        bad_items.append("2.5")
    if not is_tuple:
        return bad_items
    n = len(default)
    good = ",".join(repr(v) for v in default)
    out = [f"{good},{x}" if n > 1 else x for x in bad_items]
    out.append(good + ",," + good)
    args = typing.get_args(hint)
    if args[-1] is not Ellipsis:  # fixed arity: one value too few and one too many
        out += [",".join(repr(v) for v in default[:-1]), good + "," + repr(default[-1])]
    elif b.min_len >= 1:
        out.append("")
    if b.max_len is not None:
        out.append(",".join([repr(default[0])] * (b.max_len + 1)))
    if b.ordered and n >= 2 and default[0] != default[-1]:
        out.append(",".join(repr(v) for v in reversed(default)))
    return out


def test_every_experiment_has_presets_and_a_smoke_setting() -> None:
    assert {"ch01_boltzmann", "ch02_soft_bellman", "ch06_maxent_irl"} <= set(EXPERIMENTS)
    for name, exp in EXPERIMENTS.items():
        for preset in exp.presets.values():
            validate_config(preset)
        assert exp.smoke, f"{name} declares no smoke overrides"
        apply_overrides(exp.presets["quick"], dict(exp.smoke))


@pytest.mark.parametrize("name, field", FIELDS, ids=[f"{n}.{f.name}" for n, f in FIELDS])
def test_field_refuses_bad_values_in_one_line(name: str, field: dataclasses.Field) -> None:
    exp = EXPERIMENTS[name]
    hint = typing.get_type_hints(exp.config_type)[field.name]
    quick = exp.presets["quick"]
    default = getattr(quick, field.name)
    texts = _bad_texts(field, hint, default)
    assert texts or typing.get_args(hint) == () and hint is str, "no bad value could be derived"
    for text in texts:
        with pytest.raises(ConfigError) as info:
            apply_overrides(quick, {field.name: text})
        message = str(info.value)
        assert "\n" not in message and (field.name in message), (text, message)
    # and the default, written as text, is accepted (the parser and the checks agree)
    if typing.get_origin(hint) is tuple:
        text = ",".join(repr(v) for v in default)
    else:
        text = str(default).lower() if isinstance(default, bool) else default if isinstance(default, str) else repr(default)
    assert getattr(apply_overrides(quick, {field.name: text}), field.name) == default


def test_integers_accept_exponent_form_and_refuse_fractions() -> None:
    exp = EXPERIMENTS["ch02_soft_bellman"]
    assert parse_field(exp.config_type, "mc_episodes", "1e3") == 1000
    with pytest.raises(ConfigError, match="cannot read '1.5' as int"):
        parse_field(exp.config_type, "mc_episodes", "1.5")
    assert math.isclose(parse_field(exp.config_type, "mc_tau", " 0.25 "), 0.25)
