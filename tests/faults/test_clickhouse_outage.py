"""Fault (c): ClickHouse is killed for 30 s while a bytewax flow streams transactions into it.

The test owns its server (``ClickHouseServer`` of tests/services/clickhouse.py, on its own data
directory): it SIGKILLs it mid-stream, keeps it down ``DOWN_S`` seconds while the source goes on
producing, and starts it again on the same ports and data. The sink must retry and hold the
worker back (a bounded buffer) instead of dropping rows.

Natural key: the transactions table is a ReplacingMergeTree ordered by (chain_id, hash,
block_hash). An insert that reached the server just before the kill but was never acknowledged
is sent again, so the table may hold a row twice until a merge; ``SELECT ... FINAL`` collapses
rows by that key and is what the test calls "what ClickHouse holds". The raw rows (without FINAL)
are counted too, as the repeats before de-duplication, and ``uniqExact(hash)`` cross-checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.testing import run_main
from clickhouse_driver import Client
from prometheus_client import REGISTRY

from connectors.clickhouse.schema import apply_schema
from connectors.clickhouse.sink import ClickHouseSink
from connectors.retry import Backoff
from flows.steps.clickhouse import write_clickhouse
from operators.records import Tx
from tests.connectors.samples import make_tx
from tests.faults.accounting import tally
from tests.services.clickhouse import ClickHouseServer

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.fault]

DOWN_S = 30.0
TXS = 6000
PER_BATCH = 20
EVERY = timedelta(milliseconds=50)  # 400 txs/s


class _Paced(StatelessSourcePartition[Tx]):
    def __init__(self, txs: list[Tx]) -> None:
        self._txs = iter(txs)
        self._awake = datetime.now(UTC)

    def next_batch(self) -> list[Tx]:
        batch = [tx for _, tx in zip(range(PER_BATCH), self._txs, strict=False)]
        if not batch:
            raise StopIteration
        self._awake = datetime.now(UTC) + EVERY
        return batch

    def next_awake(self) -> datetime:
        return self._awake


class PacedTxs(DynamicSource[Tx]):
    """A live-like stream: ``PER_BATCH`` transactions every ``EVERY``, on one worker."""

    def __init__(self, txs: list[Tx]) -> None:
        self._txs = txs

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Paced:
        return _Paced(self._txs if worker_index == 0 else [])


@pytest.fixture
def own_clickhouse(tmp_path: Path) -> Iterator[ClickHouseServer]:
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def sink_errors() -> float:
    return REGISTRY.get_sample_value("scorpius_sink_errors_total", {"sink": "clickhouse"}) or 0.0


def count(client: Client, query: str) -> int:
    ((value,),) = client.execute(query)
    return int(value)


def test_clickhouse_down_30s_mid_stream_loses_and_doubles_nothing(
    own_clickhouse: ClickHouseServer,
) -> None:
    server = own_clickhouse
    url = server.url("default")
    apply_schema(url)
    client = Client("127.0.0.1", port=server.tcp_port)
    txs = [make_tx(i) for i in range(TXS)]
    sink = ClickHouseSink(
        url,
        batch_rows=200,
        flush_seconds=0.2,
        max_buffer_rows=2000,  # 5 s of input: the outage must hold the worker back
        backoff=Backoff(initial_s=0.2, max_s=2.0),
    )
    flow = Dataflow("clickhouse_outage")
    write_clickhouse("ch", op.input("txs", flow, PacedTxs(txs)), sink)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            run_main(flow)
        except BaseException as exc:
            failure.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()

    deadline = time.monotonic() + 60
    while (stored_at_kill := count(client, "SELECT count() FROM transactions")) < 400:
        assert time.monotonic() < deadline and runner.is_alive(), "no rows reached ClickHouse"
        time.sleep(0.05)
    errors_before = sink_errors()
    server.kill()  # a crash, not a clean shutdown
    down_since = time.monotonic()
    time.sleep(DOWN_S)  # the outage itself is the fault under test
    assert runner.is_alive(), f"the flow ended while ClickHouse was down: {failure}"
    assert sink_errors() > errors_before, "the sink did not notice the outage"
    server.start()  # same ports, same data directory
    print(
        f"\nClickHouse killed with {stored_at_kill} of {TXS} rows stored, "
        f"down {time.monotonic() - down_since:.1f}s"
    )

    runner.join(timeout=120)
    assert not runner.is_alive(), "the flow did not finish after ClickHouse came back"
    assert not failure, failure
    client = Client("127.0.0.1", port=server.tcp_port)
    raw = [h for (h,) in client.execute("SELECT hash FROM transactions")]
    final = [h for (h,) in client.execute("SELECT hash FROM transactions FINAL")]
    assert count(client, "SELECT uniqExact(hash) FROM transactions") == len(set(raw))
    tally("clickhouse down 30 s", [tx.hash for tx in txs], raw, final).report_and_check()
