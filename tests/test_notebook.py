"""maxentrl.notebook: glue echoes nothing, and glued figures are shown once."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import maxentrl.notebook as notebook  # noqa: E402


def test_glue_returns_nothing_so_a_cell_ending_in_glue_echoes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(notebook, "_myst_glue", lambda name, value, display: calls.append((name, value, display)))
    assert notebook.glue("x", 0.25) is None
    assert calls == [("x", 0.25, False)]
    monkeypatch.setattr(notebook, "_myst_glue", None)
    assert notebook.glue("x", 0.25) is None


def test_glue_figure_stores_and_closes_in_the_book(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(notebook, "_myst_glue", lambda name, value, display: calls.append((name, value, display)))
    fig, _ = plt.subplots()
    assert notebook.glue_figure("ch00-fig-x", fig) is None
    assert calls == [("ch00-fig-x", fig, False)]
    assert not plt.fignum_exists(fig.number)  # closed: the inline backend will not show it a second time


def test_glue_figure_leaves_the_figure_to_the_notebook_without_myst_nb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notebook, "_myst_glue", None)
    fig, _ = plt.subplots()
    notebook.glue_figure("ch00-fig-x", fig)
    assert plt.fignum_exists(fig.number)  # Colab's inline backend shows it below the cell
    plt.close(fig)
