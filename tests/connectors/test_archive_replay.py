"""Replaying the archive: the exact archived Tx records, in event-time order, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from connectors.archive_query import Filters
from connectors.archive_replay import ArchiveReplaySource
from connectors.delta_archive import DeltaArchiveSink
from flows.steps.archive import archive
from tests.connectors.samples import HOUR_MS, T0_MS, make_enriched, make_tx
from tests.dataflows import collect

# Out of order on purpose, across three hours and two chains, with two uint256 values.
RECORDS: list[Any] = [
    make_tx(i, chain_id=1 if i % 2 else 10, seen_ms=T0_MS + ((7 * i) % 3) * HOUR_MS - i)
    for i in range(30)
] + [make_tx(30, value=2**256 - 1), make_enriched(31)]
TXS = [r.tx if hasattr(r, "tx") else r for r in RECORDS]


def replay_order(tx: Any) -> tuple[int, int, str]:
    """Event time, then the natural key: the archive's order (ties in time are common)."""
    return (tx.first_seen_ms, tx.chain_id, tx.hash)


def write_archive(root: Path) -> None:
    flow = Dataflow("write")
    archive(
        "archive",
        op.input("in", flow, TestingSource(RECORDS)),
        DeltaArchiveSink(str(root), "transactions", batch_rows=7),
    )
    run_main(flow)


def replay(source: ArchiveReplaySource) -> list[Any]:
    return collect(source, "replay")


def test_replay_gives_back_every_archived_tx_in_event_time_order(tmp_path: Path) -> None:
    write_archive(tmp_path)
    got = replay(ArchiveReplaySource(str(tmp_path), progress=False, batch_size=4))
    assert got == sorted(TXS, key=replay_order)


def test_replay_applies_the_query_filters_and_shows_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_archive(tmp_path)
    got = replay(ArchiveReplaySource(str(tmp_path), Filters(chains=(10,))))
    # The bar ends at the rows replayed (chain 10 only): 15 of the 32.
    assert "15/15" in capsys.readouterr().err
    assert got == sorted((t for t in TXS if t.chain_id == 10), key=replay_order)


def test_replay_resumes_at_the_snapshot_position(tmp_path: Path) -> None:
    write_archive(tmp_path)
    source = ArchiveReplaySource(str(tmp_path), progress=False, batch_size=5)
    part = source.build_part("in", "archive", None)
    got = part.next_batch() + part.next_batch() + part.next_batch()
    resumed = source.build_part("in", "archive", part.snapshot())
    while True:
        try:
            got += resumed.next_batch()
        except StopIteration:
            break
    assert got == sorted(TXS, key=replay_order)
