"""What the exercise checks share: watching the calls an answer makes, and reporting outcomes.

**Delegation.** A coding exercise asks the reader to write a computation the
package already has, so an answer could simply call the package. A check runs
the reader's function inside :class:`CallWatch`, which installs a profile hook
(:func:`sys.setprofile`, and :func:`threading.setprofile` for threads the
answer starts) for the duration of the call. The hook sees every Python frame
that starts and every built-in that is called, and records

* any frame whose code lives in a module of the ``maxentrl`` package other
  than those the exercise allows (its data structures, say), and
* any call of a function whose name the exercise rules out (``logsumexp``
  where the exercise is to write it).

It looks at where the running code is defined, not at names in the answer's
namespace: importing the reference under another name, fetching it with
``getattr``, wrapping it in a lambda or ``functools.partial``, or reaching it
through another module of the package that uses it are all caught alike.

**Reporting.** When the environment variable ``MAXENTRL_GRADE_LOG`` names a
file, every check appends one JSON line to it: which check ran, whether it
passed, and the first reason if not. ``python -m maxentrl.grade`` reads these
lines to show which checks a student ran (its own verdict comes from running
the checks itself, see :mod:`maxentrl.grade`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["CallWatch", "GRADE_LOG_ENV", "Delegated", "call_answer", "report"]

GRADE_LOG_ENV = "MAXENTRL_GRADE_LOG"

_PACKAGE_DIR = Path(__file__).resolve().parent
#: Modules whose own frames are the checking machinery, not an answer's delegation.
_CHECKING_MODULES = frozenset({"maxentrl.checking", "maxentrl.checks", "maxentrl.checks_ch02", "maxentrl.checks_ch03",
                               "maxentrl.checks_ch04", "maxentrl.checks_ch05", "maxentrl.checks_ch06"})


class Delegated(AssertionError):
    """The answer called code the exercise asks the reader to write."""


def _module_of(filename: str) -> str | None:
    """``maxentrl.x.y`` for a file of this package, ``None`` for any other file."""
    try:
        rel = Path(filename).resolve().relative_to(_PACKAGE_DIR)
    except (ValueError, OSError):
        return None
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["maxentrl", *parts])


class CallWatch:
    """Record the package code and the ruled-out functions an answer calls while the watch is on.

    ``allowed``: modules of the package (``"maxentrl.mdp"``) whose own code the
    answer may run, e.g. the methods of the data structure it is given; code
    they call is still watched. ``forbidden_names``: names of functions (built-in
    or Python, anywhere) the exercise rules out, e.g. ``("logsumexp",)``.
    """

    def __init__(self, *, allowed: Iterable[str] = (), forbidden_names: Iterable[str] = ()) -> None:
        self.allowed = frozenset(allowed) | _CHECKING_MODULES
        self.forbidden_names = frozenset(forbidden_names)
        self.calls: list[str] = []
        self._module_cache: dict[str, str | None] = {}
        self._saved: tuple[Any, Any] | None = None

    def _module(self, filename: str) -> str | None:
        if filename not in self._module_cache:
            self._module_cache[filename] = _module_of(filename)
        return self._module_cache[filename]

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            module = self._module(code.co_filename)
            if module is not None and module not in self.allowed:
                self._note(f"{module}.{code.co_name}")
            elif code.co_name in self.forbidden_names:
                self._note(f"{frame.f_globals.get('__name__', '?')}.{code.co_name}")
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            if name in self.forbidden_names:
                owner = getattr(arg, "__module__", None) or type(getattr(arg, "__self__", None)).__name__
                self._note(f"{owner}.{name}")

    def _note(self, what: str) -> None:
        if what not in self.calls:
            self.calls.append(what)

    def __enter__(self) -> "CallWatch":
        self._saved = (sys.getprofile(), getattr(threading, "_profile_hook", None))
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._saved[0])
        threading.setprofile(self._saved[1])

    def verdict(self) -> str | None:
        """``None`` when the answer did its own work, else a one-line reason."""
        if not self.calls:
            return None
        package = [c for c in self.calls if c.startswith("maxentrl.")]
        if package:
            shown = ", ".join(package[:2]) + (", ..." if len(package) > 2 else "")
            return (f"your answer runs the package's own code ({shown}); the exercise is to write "
                    "the computation yourself")
        return f"your answer calls {', '.join(self.calls[:2])}, which the exercise rules out"


def call_answer(answer: Callable[..., Any], *args: Any, allowed: Iterable[str] = (),
                forbidden_names: Iterable[str] = ()) -> Any:
    """``answer(*args)`` under a :class:`CallWatch`; raises :class:`Delegated` if it used what it must not.

    Exceptions the answer raises propagate unchanged.
    """
    watch = CallWatch(allowed=allowed, forbidden_names=forbidden_names)
    with watch:
        result = answer(*args)
    reason = watch.verdict()
    if reason is not None:
        raise Delegated(reason)
    return result


def report(check: str, passed: bool, detail: str = "") -> None:
    """Append the outcome of ``check`` to the file named by ``MAXENTRL_GRADE_LOG``, if it is set."""
    path = os.environ.get(GRADE_LOG_ENV)
    if not path:
        return
    line = json.dumps({"check": check, "passed": bool(passed), "detail": detail[:500]})
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:  # reporting must never break the reader's notebook
        pass
