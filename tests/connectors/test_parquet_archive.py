"""The Parquet archive sink on a local folder: layout, round trip, rolling, atomicity, recovery."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSource, run_main

from connectors.archive_tables import PARTITION_SCHEMA, TABLES, tx_from_row
from connectors.parquet_archive import ArchivePartState, ParquetArchiveSink, archive
from tests.connectors.samples import (
    HOUR_MS,
    T0_MS,
    make_alert,
    make_block,
    make_dead_letter,
    make_detection,
    make_enriched,
    make_rule_match,
    make_tx,
)


def run_archive(records: list[Any], sink: ParquetArchiveSink, **kwargs: Any) -> None:
    flow = Dataflow("archive_test")
    up = op.input("in", flow, TestingSource(records))
    archive("archive", up, sink)
    run_main(flow, **kwargs)


def read_table(root: Path, table: str) -> list[dict[str, Any]]:
    dataset = ds.dataset(
        str(root / table),
        format="parquet",
        partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
    )
    rows: list[dict[str, Any]] = dataset.to_table().to_pylist()
    return rows


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


RECORDS: dict[str, list[Any]] = {
    "transactions": [make_tx(i) for i in range(10)] + [make_enriched(i) for i in range(10, 14)],
    "blocks": [make_block(i) for i in range(3)],
    "detections": [make_detection(i) for i in range(3)],
    "rule_matches": [make_rule_match(i) for i in range(3)],
    "alerts": [make_alert(i) for i in range(3)],
    "dead_letters": [make_dead_letter(i) for i in range(4)],
}


@pytest.mark.parametrize("table", sorted(RECORDS))
def test_every_table_round_trips_its_rows(tmp_path: Path, table: str) -> None:
    records = RECORDS[table]
    run_archive(records, ParquetArchiveSink(str(tmp_path), table))
    spec = TABLES[table]
    got = read_table(tmp_path, table)
    for row in got:
        for column in ("chain", "date", "hour"):
            row.pop(column)
    key = lambda row: tuple(str(row[c]) for c in spec.key_columns)  # noqa: E731
    assert sorted(got, key=key) == sorted((spec.to_row(r) for r in records), key=key)


def test_transactions_come_back_exactly_including_uint256(tmp_path: Path) -> None:
    txs = [make_tx(i) for i in range(8)] + [make_tx(8, value=2**256 - 1)]
    run_archive(txs, ParquetArchiveSink(f"file://{tmp_path}", "transactions"))
    back = {tx.hash: tx for tx in map(tx_from_row, read_table(tmp_path, "transactions"))}
    assert back == {tx.hash: tx for tx in txs}
    assert back[txs[-1].hash].value == 2**256 - 1


def test_files_are_hive_partitioned_by_chain_date_and_hour_of_event_time(tmp_path: Path) -> None:
    txs = [
        make_tx(0, chain_id=1, seen_ms=T0_MS),  # 2023-08-04 22:04 UTC
        make_tx(1, chain_id=1, seen_ms=T0_MS + 2 * HOUR_MS),  # 2023-08-05 00:04 UTC
        make_tx(2, chain_id=8453, seen_ms=T0_MS),
    ]
    run_archive(txs, ParquetArchiveSink(str(tmp_path), "transactions"))
    folders = {p.parent.relative_to(tmp_path).as_posix() for p in parquet_files(tmp_path)}
    assert folders == {
        "transactions/chain=1/date=2023-08-04/hour=22",
        "transactions/chain=1/date=2023-08-05/hour=00",
        "transactions/chain=8453/date=2023-08-04/hour=22",
    }


def test_files_roll_by_rows_and_always_at_eof(tmp_path: Path) -> None:
    run_archive(
        [make_tx(i) for i in range(7)],
        ParquetArchiveSink(str(tmp_path), "transactions", roll_rows=3),
    )
    sizes = [pq.read_metadata(p).num_rows for p in parquet_files(tmp_path)]
    assert sizes == [3, 3, 1]


def test_files_roll_by_time_of_the_oldest_buffered_row(tmp_path: Path) -> None:
    now = [0.0]
    sink = ParquetArchiveSink(str(tmp_path), "transactions", roll_seconds=60, clock=lambda: now[0])
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(0)])
    now[0] = 59.0
    part.write_batch([make_tx(1)])
    assert parquet_files(tmp_path) == []
    now[0] = 60.0
    part.write_batch([make_tx(2)])
    assert [pq.read_metadata(p).num_rows for p in parquet_files(tmp_path)] == [3]


@pytest.mark.parametrize("compression", ["gzip", "lz4", "zstd", "snappy"])
def test_compression_is_the_configured_codec(tmp_path: Path, compression: str) -> None:
    run_archive(
        [make_tx(i) for i in range(3)],
        ParquetArchiveSink(str(tmp_path), "transactions", compression),
    )
    (path,) = parquet_files(tmp_path)
    codec = pq.read_metadata(path).row_group(0).column(0).compression
    assert codec.lower().startswith(compression.lower())
    assert len(read_table(tmp_path, "transactions")) == 3


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    run_archive(
        [make_tx(i) for i in range(5)],
        ParquetArchiveSink(str(tmp_path), "transactions", roll_rows=2),
    )
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert leftovers == []


def test_a_second_fresh_run_never_overwrites_the_first(tmp_path: Path) -> None:
    run_archive([make_tx(i) for i in range(3)], ParquetArchiveSink(str(tmp_path), "transactions"))
    run_archive(
        [make_tx(i) for i in range(3, 6)], ParquetArchiveSink(str(tmp_path), "transactions")
    )
    assert len(parquet_files(tmp_path)) == 2
    assert len(read_table(tmp_path, "transactions")) == 6


def test_rejects_unknown_table_and_codec(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown archive table"):
        ParquetArchiveSink(str(tmp_path), "nope")
    with pytest.raises(ValueError, match="unknown compression"):
        ParquetArchiveSink(str(tmp_path), "transactions", compression="brotli9")


def test_snapshot_carries_unwritten_rows_into_the_resumed_partition(tmp_path: Path) -> None:
    sink = ParquetArchiveSink(str(tmp_path), "transactions")
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(0), make_tx(1)])
    state = part.snapshot()
    assert isinstance(state, ArchivePartState)
    resumed = sink.build_part("archive", "0", state)
    resumed.close()
    assert sorted(r["hash"] for r in read_table(tmp_path, "transactions")) == [
        make_tx(0).hash,
        make_tx(1).hash,
    ]


class CrashingSink(ParquetArchiveSink):
    """A sink whose partitions die without close(): bytewax does not promise close() on abort."""

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> Any:
        part = super().build_part(step_id, for_part, resume_state)
        part.close = lambda: None  # type: ignore[method-assign]
        return part


def test_a_large_buffer_is_written_out_rather_than_snapshotted(tmp_path: Path) -> None:
    sink = ParquetArchiveSink(str(tmp_path), "transactions", max_state_rows=3)
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(0), make_tx(1), make_tx(2)])
    assert sum(len(rows) for rows in part.snapshot().pending.values()) == 3
    part.write_batch([make_tx(3)])
    state = part.snapshot()
    assert state.pending == {} and state.next_seq == 1
    assert len(read_table(tmp_path, "transactions")) == 4


def test_abort_and_resume_loses_nothing_and_rewrites_instead_of_duplicating(tmp_path: Path) -> None:
    archive_root = tmp_path / "archive"
    db_dir = tmp_path / "recovery"
    db_dir.mkdir()
    init_db_dir(db_dir, 1)
    txs = [make_tx(i) for i in range(12)]
    items: list[Any] = [*txs[:8], TestingSource.ABORT(), *txs[8:]]
    recovery = RecoveryConfig(str(db_dir))

    def run(sink: ParquetArchiveSink) -> None:
        flow = Dataflow("archive_recovery")
        archive("archive", op.input("in", flow, TestingSource(items)), sink)
        run_main(flow, epoch_interval=timedelta(0), recovery_config=recovery)

    # A crash: the ABORT stops the run and close() never flushes rows 6 and 7.
    run(CrashingSink(str(archive_root), "transactions", roll_rows=3))
    first_files = {p.name for p in parquet_files(archive_root)}
    assert len(read_table(archive_root, "transactions")) == 6
    run(ParquetArchiveSink(str(archive_root), "transactions", roll_rows=3))
    rows = read_table(archive_root, "transactions")
    hashes = [r["hash"] for r in rows]
    assert sorted(set(hashes)) == sorted(tx.hash for tx in txs)
    # Same run id and sequence numbers after resume: files named as before the crash are reused.
    names = [p.name for p in parquet_files(archive_root)]
    assert {n.split("-")[1] for n in names} == {next(iter(first_files)).split("-")[1]}
    assert len(hashes) == len(txs)
