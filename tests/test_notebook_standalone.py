"""maxentrl.notebook in a generated notebook: numbers are already in the text, figures show under their cell."""

from __future__ import annotations

import IPython.display
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from maxentrl import notebook  # noqa: E402


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    monkeypatch.setattr(IPython.display, "display", lambda value, **kw: calls.append(value))
    return calls


def test_standalone_is_what_the_setup_cell_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAXENTRL_STANDALONE_NOTEBOOK", raising=False)
    assert notebook.standalone() is False
    monkeypatch.setenv("MAXENTRL_STANDALONE_NOTEBOOK", "1")
    assert notebook.standalone() is True
    monkeypatch.setenv("MAXENTRL_STANDALONE_NOTEBOOK", "0")
    assert notebook.standalone() is False


def test_a_glued_figure_is_shown_once_and_numbers_are_not(monkeypatch: pytest.MonkeyPatch, shown: list) -> None:
    monkeypatch.setenv("MAXENTRL_STANDALONE_NOTEBOOK", "1")
    fig, ax = plt.subplots()
    assert notebook.glue("fig", fig, display=False) is None
    assert shown == [fig] and not plt.fignum_exists(fig.number)  # closed: the inline backend will not draw it again
    assert notebook.glue("x", 0.25) is None and notebook.glue("s", "text", display=True) is None
    assert shown == [fig]


def test_in_the_book_build_glue_records_and_returns_nothing(monkeypatch: pytest.MonkeyPatch, shown: list) -> None:
    monkeypatch.delenv("MAXENTRL_STANDALONE_NOTEBOOK", raising=False)
    recorded: list = []
    monkeypatch.setattr(notebook, "_myst_glue", lambda name, value, display: recorded.append((name, value, display)))
    assert notebook.glue("x", 0.25) is None
    assert recorded == [("x", 0.25, False)] and shown == []


def test_glue_figure_in_each_setting(monkeypatch: pytest.MonkeyPatch, shown: list) -> None:
    recorded: list = []
    monkeypatch.setattr(notebook, "_myst_glue", lambda name, value, display: recorded.append((name, display)))
    monkeypatch.delenv("MAXENTRL_STANDALONE_NOTEBOOK", raising=False)
    fig, _ = plt.subplots()
    assert notebook.glue_figure("ch00-fig-a", fig) is None
    assert recorded == [("ch00-fig-a", False)] and shown == [] and not plt.fignum_exists(fig.number)
    monkeypatch.setenv("MAXENTRL_STANDALONE_NOTEBOOK", "1")
    fig2, _ = plt.subplots()
    notebook.glue_figure("ch00-fig-b", fig2)
    assert shown == [fig2] and len(recorded) == 1 and not plt.fignum_exists(fig2.number)
