"""Every chapter's experiment, runnable from the book, the command line and the tests.

Chapter modules (``chNN_*.py`` in this package) register themselves on import;
:func:`load_all` imports them all.
"""

from __future__ import annotations

import importlib
import pkgutil

from maxentrl.experiments.harness import (
    REGISTRY,
    ConfigError,
    Experiment,
    RunContext,
    RunResult,
    apply_overrides,
    committed_result,
    get_experiment,
    load_result,
    register,
    run_experiment,
)

__all__ = [
    "REGISTRY",
    "ConfigError",
    "Experiment",
    "RunContext",
    "RunResult",
    "apply_overrides",
    "committed_result",
    "get_experiment",
    "load_all",
    "load_result",
    "register",
    "run_experiment",
]


def load_all() -> dict[str, Experiment]:
    """Import every ``ch*`` module of this package so that its experiments register."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY
