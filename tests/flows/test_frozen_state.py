"""Snapshots of stateful steps are frozen when taken, and resume, also from older snapshots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.steps.frozen_state import _FlatMapLogic, stateful_flat_map, thaw
from flows.steps.windows import _DetectorWindow
from operators.replacement import SenderBucket
from tests.operators.test_replacement import etx


def count(seen: dict[str, int] | None, word: str) -> tuple[dict[str, int], list[tuple[str, int]]]:
    seen = seen or {}
    seen[word] = seen.get(word, 0) + 1
    return seen, [(word, seen[word])]


def test_a_flat_map_snapshot_keeps_the_state_it_was_taken_at() -> None:
    logic: _FlatMapLogic[str, tuple[str, int], dict[str, int]] = _FlatMapLogic(count, None)
    logic.on_item("a")
    snapshot = logic.snapshot()
    # The next epoch's items may run before bytewax pickles the snapshot.
    logic.on_item("a")
    logic.on_item("b")
    assert thaw(snapshot) == {"a": 1}


def test_a_window_snapshot_does_not_move_with_its_detector() -> None:
    window = _DetectorWindow(SenderBucket())
    window.on_value(etx("01", 5, 100, 1_000))
    snapshot = window.snapshot()
    found = list(window.on_value(etx("02", 5, 200, 2_000)))  # a replacement of nonce 5
    assert [d.kind for d in found] == ["replacement"]
    resumed = _DetectorWindow(thaw(snapshot))
    # Replayed after a crash, the replacement is found again: the snapshot had not seen it.
    again = list(resumed.on_value(etx("02", 5, 200, 2_000)))
    assert [d.key for d in again] == [d.key for d in found]


def run_counts(items: list[Any], db: Path, step: Any) -> list[tuple[str, int]]:
    out: list[tuple[str, tuple[str, int]]] = []
    flow = Dataflow("frozen_state")
    words = op.key_on("key", op.input("in", flow, TestingSource(items)), lambda w: "all")
    op.output("out", step("count", words, count), TestingSink(out))
    run_main(flow, epoch_interval=timedelta(0), recovery_config=RecoveryConfig(str(db)))
    return [pair for _key, pair in out]


def recovery_db(tmp_path: Path) -> Path:
    db = tmp_path / "recovery"
    db.mkdir()
    init_db_dir(db, 1)
    return db


def test_a_crash_resumes_from_the_frozen_snapshot(tmp_path: Path) -> None:
    db = recovery_db(tmp_path)
    items: list[Any] = ["a", "b", "a", TestingSource.ABORT(), "a", "b"]
    assert run_counts(items, db, stateful_flat_map) == [("a", 1), ("b", 1), ("a", 2)]
    assert run_counts(items, db, stateful_flat_map) == [("a", 3), ("b", 2)]


def test_a_snapshot_written_by_bytewax_stateful_flat_map_resumes(tmp_path: Path) -> None:
    # Recovery stores of earlier releases hold the state itself, under the same step id.
    db = recovery_db(tmp_path)
    items: list[Any] = ["a", "b", "a", TestingSource.ABORT(), "a", "b"]
    assert run_counts(items, db, op.stateful_flat_map) == [("a", 1), ("b", 1), ("a", 2)]
    assert run_counts(items, db, stateful_flat_map) == [("a", 3), ("b", 2)]
