"""The Delta archive sink on a local folder and on S3 (moto server): round trip, batching, atomic
and idempotent commits, recovery, reruns, compaction, time travel, vacuum."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
import pyarrow.parquet as pq
import pytest
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSource, run_main
from deltalake import DeltaTable

from connectors.archive_query import Filters, history, iter_rows, query, vacuum
from connectors.archive_tables import TABLES, tx_from_row
from connectors.delta_archive import (
    ArchivePartState,
    DeltaArchiveSink,
    compact,
    delta_storage_options,
    table_uri,
)
from flows.steps.archive import archive
from tests.connectors.samples import (
    HOUR_MS,
    T0_MS,
    make_tx,
    records_by_table,
)
from tests.services.s3 import S3Archive


def transactions_sink(where: S3Archive, **settings: Any) -> DeltaArchiveSink:
    return DeltaArchiveSink(
        where.url, "transactions", storage_options=where.storage_options, **settings
    )


def run_archive(records: list[Any], sink: DeltaArchiveSink, **kwargs: Any) -> None:
    flow = Dataflow("archive_test")
    up = op.input("in", flow, TestingSource(records))
    archive("archive", up, sink)
    run_main(flow, **kwargs)


def delta(where: S3Archive | Path, table: str = "transactions") -> DeltaTable:
    url, options = (
        (str(where), {}) if isinstance(where, Path) else (where.url, where.storage_options)
    )
    return DeltaTable(table_uri(url, table), storage_options=delta_storage_options(options))


def read_table(where: S3Archive | Path, table: str) -> list[dict[str, Any]]:
    """Every stored row as readers get it (uint64 columns back from decimal), without ``date``."""
    rows = delta(where, table).to_pyarrow_table().drop_columns(["date"]).cast(TABLES[table].schema)
    return rows.to_pylist()


def data_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


RECORDS: dict[str, list[Any]] = records_by_table(range(10), range(10, 14))


@pytest.mark.parametrize("table", sorted(RECORDS))
def test_every_table_round_trips_its_rows(tmp_path: Path, table: str) -> None:
    records = RECORDS[table]
    run_archive(records, DeltaArchiveSink(str(tmp_path), table))
    spec = TABLES[table]
    got = read_table(tmp_path, table)
    key = lambda row: tuple(str(row[c]) for c in spec.key_columns)  # noqa: E731
    assert sorted(got, key=key) == sorted((spec.to_row(r) for r in records), key=key)


def test_transactions_come_back_exactly_including_uint256_and_uint64(tmp_path: Path) -> None:
    import msgspec

    big = msgspec.structs.replace(make_tx(9), nonce=2**64 - 1, gas=2**64 - 2)
    txs = [make_tx(i) for i in range(8)] + [make_tx(8, value=2**256 - 1), big]
    run_archive(txs, DeltaArchiveSink(f"file://{tmp_path}", "transactions"))
    back = {tx.hash: tx for tx in map(tx_from_row, read_table(tmp_path, "transactions"))}
    assert back == {tx.hash: tx for tx in txs}
    assert back[txs[-2].hash].value == 2**256 - 1 and back[big.hash].nonce == 2**64 - 1


def test_one_commit_makes_one_file_per_event_date_not_per_hour(tmp_path: Path) -> None:
    # Fifty hours of old data on two chains: the hour-bucket layout made 100 files of it.
    txs = [
        make_tx(i, chain_id=1 if i % 2 else 8453, seen_ms=T0_MS + (i // 2) * HOUR_MS)
        for i in range(100)
    ]
    run_archive(txs, DeltaArchiveSink(str(tmp_path), "transactions"))
    folders = sorted(p.parent.name for p in data_files(tmp_path))
    assert folders == ["date=2023-08-04", "date=2023-08-05", "date=2023-08-06"]
    assert delta(tmp_path).version() == 0  # one atomic commit


def test_commits_are_bounded_by_rows_and_always_made_at_eof(tmp_path: Path) -> None:
    run_archive(
        [make_tx(i) for i in range(7)],
        DeltaArchiveSink(str(tmp_path), "transactions", batch_rows=3),
    )
    sizes = sorted(pq.read_metadata(p).num_rows for p in data_files(tmp_path))
    assert sizes == [1, 3, 3]
    assert delta(tmp_path).version() == 2


def test_commits_are_bounded_by_bytes(tmp_path: Path) -> None:
    sink = DeltaArchiveSink(str(tmp_path), "transactions", batch_bytes=1, background=False)
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(i) for i in range(5)])
    assert data_files(tmp_path) == []  # rows are sized once sealed into Arrow
    part.write_batch([make_tx(i) for i in range(5, 5 + 2_048)])
    assert len(read_table(tmp_path, "transactions")) == 5 + 2_048


def test_commits_wait_at_most_flush_seconds(tmp_path: Path) -> None:
    now = [0.0]
    sink = DeltaArchiveSink(
        str(tmp_path), "transactions", flush_seconds=60, clock=lambda: now[0], background=False
    )
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(0)])
    now[0] = 59.0
    part.write_batch([make_tx(1)])
    assert data_files(tmp_path) == []
    now[0] = 60.0
    part.write_batch([make_tx(2)])
    assert [pq.read_metadata(p).num_rows for p in data_files(tmp_path)] == [3]


@pytest.mark.parametrize("compression", ["gzip", "lz4", "zstd", "snappy"])
def test_compression_is_the_configured_codec(tmp_path: Path, compression: str) -> None:
    run_archive(
        [make_tx(i) for i in range(3)],
        DeltaArchiveSink(str(tmp_path), "transactions", compression),
    )
    (path,) = data_files(tmp_path)
    codec = pq.read_metadata(path).row_group(0).column(0).compression
    assert codec.lower().startswith(compression.lower())
    assert len(read_table(tmp_path, "transactions")) == 3


def test_fresh_runs_append_and_reruns_of_the_same_input_add_nothing(where: S3Archive) -> None:
    def run(txs: list[Any], run_id: str = "") -> None:
        sink = transactions_sink(where, batch_rows=4, run_id=run_id)
        run_archive(txs, sink)

    run([make_tx(i) for i in range(3)])
    run([make_tx(i) for i in range(3, 6)])
    assert len(read_table(where, "transactions")) == 6
    # The same input twice under one run id (what `make run` does twice on the bundled sample).
    same = [make_tx(i) for i in range(6, 16)]
    run(same, "replay-sample")
    version, rows = delta(where).version(), read_table(where, "transactions")
    run(same, "replay-sample")
    assert delta(where).version() == version
    assert read_table(where, "transactions") == rows and len(rows) == 16
    # A longer recording under the same id: the new tail is appended, the head is not repeated.
    run([*same, make_tx(16), make_tx(17)], "replay-sample")
    hashes = [r["hash"] for r in read_table(where, "transactions")]
    assert sorted(hashes) == sorted(make_tx(i).hash for i in range(18))


def test_rejects_unknown_table_and_codec(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown archive table"):
        DeltaArchiveSink(str(tmp_path), "nope")
    with pytest.raises(ValueError, match="unknown compression"):
        DeltaArchiveSink(str(tmp_path), "transactions", compression="brotli9")


def test_snapshot_carries_uncommitted_rows_into_the_resumed_partition(tmp_path: Path) -> None:
    sink = DeltaArchiveSink(str(tmp_path), "transactions")
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(0), make_tx(1)])
    state = part.snapshot()
    assert isinstance(state, ArchivePartState) and state.committed_rows == 0
    resumed = sink.build_part("archive", "0", state)
    resumed.close()
    assert sorted(r["hash"] for r in read_table(tmp_path, "transactions")) == [
        make_tx(0).hash,
        make_tx(1).hash,
    ]


def test_a_large_buffer_is_committed_rather_than_snapshotted(tmp_path: Path) -> None:
    sink = DeltaArchiveSink(str(tmp_path), "transactions", max_state_rows=3)
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(0), make_tx(1), make_tx(2)])
    assert sum(b.num_rows for b in part.snapshot().pending) == 3
    part.write_batch([make_tx(3)])
    state = part.snapshot()
    assert state.pending == [] and state.committed_rows == 4
    assert len(read_table(tmp_path, "transactions")) == 4


def test_rows_committed_after_the_snapshot_are_not_written_twice_on_resume(
    where: S3Archive,
) -> None:
    sink = transactions_sink(where, batch_rows=3, background=False)
    txs = [make_tx(i) for i in range(9)]
    part = sink.build_part("archive", "0", None)
    part.write_batch(txs[:2])
    state = part.snapshot()  # the recovery store keeps this; then the worker goes on and dies
    part.write_batch(txs[2:5])  # commits rows 0..4
    assert len(read_table(where, "transactions")) == 5
    # The restart resumes from the snapshot: bytewax delivers rows 2.. again, in other batches.
    resumed = sink.build_part("archive", "0", state)
    resumed.write_batch(txs[2:3])
    resumed.write_batch(txs[3:])
    resumed.close()
    hashes = [r["hash"] for r in read_table(where, "transactions")]
    assert sorted(hashes) == sorted(tx.hash for tx in txs)


class CrashingSink(DeltaArchiveSink):
    """A sink whose partitions die without close(): bytewax does not promise close() on abort."""

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> Any:
        self.background = False  # a commit in flight at the crash would make the count below vary
        part = super().build_part(step_id, for_part, resume_state)
        part.close = lambda: None  # type: ignore[method-assign]
        return part


def test_abort_and_resume_loses_nothing_and_duplicates_nothing(
    where: S3Archive, tmp_path: Path
) -> None:
    db_dir = tmp_path / "recovery"
    db_dir.mkdir()
    init_db_dir(db_dir, 1)
    txs = [make_tx(i) for i in range(12)]
    items: list[Any] = [*txs[:8], TestingSource.ABORT(), *txs[8:]]
    recovery = RecoveryConfig(str(db_dir))

    def run(sink: DeltaArchiveSink) -> None:
        flow = Dataflow("archive_recovery")
        archive("archive", op.input("in", flow, TestingSource(items)), sink)
        run_main(flow, epoch_interval=timedelta(0), recovery_config=recovery)

    options = where.storage_options
    # A crash: the ABORT stops the run and close() never commits rows 6 and 7.
    run(CrashingSink(where.url, "transactions", batch_rows=3, storage_options=options))
    assert len(read_table(where, "transactions")) == 6
    run(DeltaArchiveSink(where.url, "transactions", batch_rows=3, storage_options=options))
    hashes = [r["hash"] for r in read_table(where, "transactions")]
    assert sorted(hashes) == sorted(tx.hash for tx in txs)


def test_compaction_merges_small_files_keeps_rows_and_time_travel(where: S3Archive) -> None:
    txs = [make_tx(i, seen_ms=T0_MS + (i % 3) * 24 * HOUR_MS) for i in range(30)]
    options = where.storage_options
    run_archive(
        txs, DeltaArchiveSink(where.url, "transactions", batch_rows=2, storage_options=options)
    )
    before = delta(where)
    small = len(before.file_uris())
    assert small == 30  # 15 commits of 2 rows, each row on another date
    result = compact(where.url, "transactions", options)
    after = delta(where)
    assert result["numFilesRemoved"] == small and len(after.file_uris()) == 3  # one per date

    def rows(version: int | None) -> list[str]:
        page = query(
            where.url, "transactions", limit=1_000, storage_options=options, version=version
        )
        return sorted(r["hash"] for r in page.rows)

    assert rows(None) == rows(before.version()) == sorted(tx.hash for tx in txs)
    assert rows(0) == sorted(tx.hash for tx in txs[:2])  # time travel to the first commit
    by_hour = [
        r["hash"]
        for _, hour in iter_rows(where.url, "transactions", storage_options=options)
        for r in hour
    ]
    assert sorted(by_hour) == sorted(tx.hash for tx in txs)
    # Vacuum removes the compacted-away files; the current version still reads every row.
    removed = vacuum(where.url, 0, storage_options=options)["transactions"]
    assert len(removed) == small
    assert rows(None) == sorted(tx.hash for tx in txs)


def test_the_flow_compacts_on_its_schedule(tmp_path: Path) -> None:
    now = [0.0]
    sink = DeltaArchiveSink(
        str(tmp_path),
        "transactions",
        batch_rows=1,
        compact_seconds=10,
        clock=lambda: now[0],
        background=False,
    )
    part = sink.build_part("archive", "0", None)
    for i in range(5):
        part.write_batch([make_tx(i)])
    assert len(delta(tmp_path).file_uris()) == 5
    now[0] = 10.0
    part.write_batch([make_tx(5)])
    part.close()  # waits for the compaction thread
    assert len(delta(tmp_path).file_uris()) == 1
    operations = [c["operation"] for c in history(str(tmp_path), "transactions")]
    assert operations[0] == "OPTIMIZE" and operations.count("WRITE") == 6
    assert sorted(r["hash"] for r in read_table(tmp_path, "transactions")) == sorted(
        make_tx(i).hash for i in range(6)
    )


def test_storage_options_translate_the_s3fs_spelling() -> None:
    options = {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
        "skip_instance_cache": True,
    }
    assert delta_storage_options(options) == {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "eu-west-1",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }
    assert delta_storage_options({}) is None
    assert Filters() == Filters()


def test_commits_run_on_the_writer_thread_and_snapshots_keep_rows_in_flight(tmp_path: Path) -> None:
    sink = DeltaArchiveSink(str(tmp_path), "transactions", batch_rows=3)
    part = sink.build_part("archive", "0", None)
    part.write_batch([make_tx(i) for i in range(3)])  # a commit starts on the writer thread
    state = part.snapshot()
    in_snapshot = sum(b.num_rows for b in state.pending)
    # Either the commit was still in flight (its rows stay in the snapshot) or it is done.
    assert (state.committed_rows, in_snapshot) in {(0, 3), (3, 0)}
    part.write_batch([make_tx(i) for i in range(3, 6)])  # waits for the first, starts the second
    part.close()
    assert sorted(r["hash"] for r in read_table(tmp_path, "transactions")) == sorted(
        make_tx(i).hash for i in range(6)
    )
    assert delta(tmp_path).version() == 1
