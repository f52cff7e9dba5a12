"""Chapter 4's page bookkeeping: frame budgets and the runs of the full presets still missing."""

from __future__ import annotations

import dataclasses

from maxentrl.experiments.ch04_pg_soft_q import ATARI_EXPERIMENT, EXPERIMENT
from maxentrl.experiments.harness import RunResult
from maxentrl.figures import ch04 as figs
from maxentrl.provenance import to_jsonable


def _run(config) -> RunResult:
    return RunResult(name="ch04_pg_soft_q", preset="full", config=to_jsonable(config), results={"grid": {}},
                     provenance={})


def test_coverage_counts_done_partial_and_missing() -> None:
    full = EXPERIMENT.presets["full"]
    cells = figs.coverage_rows(to_jsonable(full), [])
    n_dqn = 2 + 2 * len(full.dqn_taus)
    assert len(cells) == len(full.games) * (len(full.a2c_variants) + n_dqn)
    assert {c["status"] for c in cells} == {"missing"}
    part = dataclasses.replace(full, games=("MinAtar/Breakout-v1",), dqn=False, a2c_steps=1000)
    whole = dataclasses.replace(full, games=("MinAtar/Asterix-v1",), dqn=False)
    cells = figs.coverage_rows(to_jsonable(full), [(".", _run(part)), ("b", _run(whole))])
    status = {(c["game"], c["algorithm"], c["variant"]): c["status"] for c in cells}
    assert status[("MinAtar/Breakout-v1", "A2C", "proper")] == "partial"
    assert status[("MinAtar/Asterix-v1", "A2C", "soft_q")] == "done"
    assert status[("MinAtar/Asterix-v1", "DQN", "standard")] == "missing"


def test_frame_budgets_against_the_paper() -> None:
    atari = to_jsonable(ATARI_EXPERIMENT.presets["full"])
    rows = figs.budget_rows([("atari", atari)])
    assert rows[0]["frames"] == atari["a2c_steps"] * 4  # frame skip 4
    assert rows[0]["of_fig3"] == rows[0]["frames"] / 40e6 and rows[0]["of_fig1"] == rows[0]["frames"] / 320e6


def test_text_table() -> None:
    out = figs.text_table([{"a": "x", "b": 1.5}, {"a": "yy", "b": None}], [("a", "A", ""), ("b", "B", ".1f")])
    lines = out.splitlines()
    assert len(lines) == 4 and "1.5" in lines[2] and "–" in lines[3]
