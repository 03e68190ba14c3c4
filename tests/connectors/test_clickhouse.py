"""The ClickHouse sink against a real clickhouse-server (Debian 18.16) started by the fixture."""

from __future__ import annotations

import threading
import time
from typing import Any

import bytewax.operators as op
import msgspec
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from clickhouse_driver import Client
from prometheus_client import REGISTRY

from connectors.clickhouse.schema import apply_schema
from connectors.clickhouse.sink import ClickHouseSink
from connectors.clickhouse.tables import TABLES
from connectors.retry import Backoff
from flows.steps.clickhouse import write_clickhouse
from operators.records import Block, DeadLetter
from tests.connectors.samples import (
    make_tx,
    records_by_table,
)
from tests.services.clickhouse import ClickHouseDatabase

pytestmark = pytest.mark.service

FAST_RETRY = Backoff(initial_s=0.05, max_s=0.5)

EVERY_KIND: list[Any] = [r for rs in records_by_table(range(8), range(8, 11)).values() for r in rs]


def client(db: ClickHouseDatabase) -> Client:
    return Client.from_url(db.url)


def read_back(db: ClickHouseDatabase) -> list[Any]:
    """Every record in every table, deduplicated by the engine (FINAL)."""
    records: list[Any] = []
    conn = client(db)
    for table in TABLES:
        rows, columns = conn.execute(f"SELECT * FROM {table.name} FINAL", with_column_types=True)
        names = [name for name, _ in columns]
        records += [table.from_row(dict(zip(names, row, strict=True))) for row in rows]
    return records


def as_stored(record: Any) -> Any:
    # The blocks table holds headers; a block's txs, receipts and traces are not part of it.
    if isinstance(record, Block):
        return msgspec.structs.replace(record, txs=(), receipts=(), traces=())
    return record


def canonical(records: list[Any]) -> list[bytes]:
    return sorted(msgspec.json.encode([type(r).__name__, r]) for r in records)


def run_flow(db: ClickHouseDatabase, records: list[Any], **kwargs: Any) -> None:
    flow = Dataflow("clickhouse_test")
    write_clickhouse(
        "ch", op.input("in", flow, TestingSource(records)), ClickHouseSink(db.url, **kwargs)
    )
    run_main(flow)


def test_apply_schema_creates_every_table_and_is_idempotent(
    clickhouse_db: ClickHouseDatabase,
) -> None:
    expected = sorted(t.name for t in TABLES)
    assert sorted(apply_schema(clickhouse_db.url)) == expected
    assert sorted(apply_schema(clickhouse_db.url)) == expected


def test_every_record_type_round_trips(clickhouse_db: ClickHouseDatabase) -> None:
    apply_schema(clickhouse_db.url)
    run_flow(clickhouse_db, EVERY_KIND, batch_rows=5)
    assert canonical(read_back(clickhouse_db)) == canonical([as_stored(r) for r in EVERY_KIND])


def test_the_same_batch_twice_leaves_one_copy(clickhouse_db: ClickHouseDatabase) -> None:
    apply_schema(clickhouse_db.url)
    run_flow(clickhouse_db, EVERY_KIND)
    run_flow(clickhouse_db, EVERY_KIND)
    assert canonical(read_back(clickhouse_db)) == canonical([as_stored(r) for r in EVERY_KIND])
    conn = client(clickhouse_db)
    conn.execute("OPTIMIZE TABLE transactions FINAL")
    ((merged,),) = conn.execute("SELECT count() FROM transactions")
    assert merged == 11


def sink_errors() -> float:
    return REGISTRY.get_sample_value("scorpius_sink_errors_total", {"sink": "clickhouse"}) or 0.0


@pytest.mark.slow
def test_outage_blocks_the_writer_and_loses_nothing(clickhouse_db: ClickHouseDatabase) -> None:
    server = clickhouse_db.server
    apply_schema(clickhouse_db.url)
    sink = ClickHouseSink(
        clickhouse_db.url, batch_rows=50, flush_seconds=0.2, max_buffer_rows=200, backoff=FAST_RETRY
    )
    part = sink.build_part("ch", "0", None)
    txs = [make_tx(i) for i in range(1000)]
    part.write_batch(txs[:100])
    part.snapshot()  # the first 100 are in ClickHouse
    errors_before = sink_errors()

    server.stop()
    done = threading.Event()

    def keep_writing() -> None:
        for start in range(100, 1000, 100):
            part.write_batch(txs[start : start + 100])
        done.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    # The buffer holds 200 rows: the worker must now be held back, not dropping rows.
    assert not done.wait(3.0)
    assert sink_errors() > errors_before

    server.start()
    writer.join(timeout=120)
    assert done.is_set()
    part.close()
    ((count,),) = client(clickhouse_db).execute("SELECT count() FROM transactions FINAL")
    assert count == 1000
    stored = {r.hash for r in read_back(clickhouse_db)}
    assert stored == {tx.hash for tx in txs}


def test_unknown_records_are_refused_at_once(clickhouse_db: ClickHouseDatabase) -> None:
    part = ClickHouseSink(clickhouse_db.url).build_part("ch", "0", None)
    with pytest.raises(TypeError, match="no ClickHouse table holds str"):
        part.write_batch(["not a record"])
    part.close()


def test_waits_are_bounded_by_flush_seconds(clickhouse_db: ClickHouseDatabase) -> None:
    """A lone row is written after flush_seconds even with no further input or snapshot."""
    apply_schema(clickhouse_db.url)
    part = ClickHouseSink(clickhouse_db.url, flush_seconds=0.2).build_part("ch", "0", None)
    part.write_batch([make_tx(1)])
    deadline = time.monotonic() + 10
    count = 0
    while time.monotonic() < deadline and not count:
        ((count,),) = client(clickhouse_db).execute("SELECT count() FROM transactions")
        time.sleep(0.1)
    assert count == 1
    part.close()


def test_rows_wait_for_a_schema_applied_late(clickhouse_db: ClickHouseDatabase) -> None:
    """UNKNOWN_TABLE is retried: starting the flow before apply-schema loses nothing."""
    part = ClickHouseSink(clickhouse_db.url, flush_seconds=0.1, backoff=FAST_RETRY).build_part(
        "ch", "0", None
    )
    errors_before = sink_errors()
    part.write_batch([make_tx(i) for i in range(5)])
    deadline = time.monotonic() + 10
    while sink_errors() == errors_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink_errors() > errors_before
    apply_schema(clickhouse_db.url)
    part.close()
    ((count,),) = client(clickhouse_db).execute("SELECT count() FROM transactions FINAL")
    assert count == 5


def test_a_non_transient_error_stops_the_flow_loudly(clickhouse_db: ClickHouseDatabase) -> None:
    client(clickhouse_db).execute(
        "CREATE TABLE transactions (hash String) ENGINE = MergeTree ORDER BY hash"
    )
    part = ClickHouseSink(clickhouse_db.url, flush_seconds=0.1).build_part("ch", "0", None)
    part.write_batch([make_tx(1)])
    with pytest.raises(RuntimeError, match="ClickHouse sink writer failed"):
        part.close()


def test_a_row_clickhouse_cannot_hold_is_a_dead_letter_and_the_rest_is_stored(
    clickhouse_db: ClickHouseDatabase,
) -> None:
    # A record built past the edge checks (gas beyond the UInt64 column): before, the writer
    # thread failed and the flow stopped; now the batch is split until the row at fault is found.
    apply_schema(clickhouse_db.url)
    good = [make_tx(i) for i in range(5)]
    bad = msgspec.structs.replace(make_tx(5), gas=1 << 70)
    rejected: list[DeadLetter] = []
    flow = Dataflow("clickhouse_reject")
    sink = ClickHouseSink(clickhouse_db.url, rejected=rejected.append, backoff=FAST_RETRY)
    write_clickhouse("ch", op.input("in", flow, TestingSource([*good[:3], bad, *good[3:]])), sink)
    run_main(flow)
    assert canonical(read_back(clickhouse_db)) == canonical(good)
    (letter,) = rejected
    assert letter.stage == "clickhouse" and letter.reason.startswith("unwritable: transactions:")
    assert bad.hash in letter.payload
