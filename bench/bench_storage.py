"""Rows per second into the Delta Lake archive and into ClickHouse, for one bytewax worker.

    python bench/bench_storage.py [--rows 200000] [--clickhouse-url clickhouse://127.0.0.1:9000/bench]

Each figure is the wall time of a whole single-worker flow (TestingSource → sink, ``run_main``)
over synthetic transactions shaped like mainnet ones (a third with calldata). Without
``--clickhouse-url`` a throwaway clickhouse-server (Debian package) is started on free ports.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from connectors.clickhouse.schema import apply_schema
from connectors.clickhouse.sink import ClickHouseSink
from connectors.delta_archive import DeltaArchiveSink
from flows.steps.archive import archive
from flows.steps.clickhouse import write_clickhouse
from operators.records import Tx

T0_MS = 1_700_000_000_000


def synthetic_txs(count: int) -> list[Tx]:
    calldata = "0x38ed1739" + "00" * 32 * 8
    return [
        Tx(
            chain_id=(1, 10, 8453, 42161)[i % 4],
            hash=f"0x{i:064x}",
            sender=f"0x{i % 5000:040x}",
            to=f"0x{i % 300:040x}",
            nonce=i // 5000,
            value=i * 10**15,
            gas=21_000 + i % 200_000,
            tx_type=2,
            input=calldata if i % 3 == 0 else "0x",
            selector="0x38ed1739" if i % 3 == 0 else None,
            first_seen_ms=T0_MS + i * 3,  # ~333 tx/s: 200k rows span about 10 minutes
            source="bench",
            max_fee_per_gas=30 * 10**9 + i,
            max_priority_fee_per_gas=10**9,
        )
        for i in range(count)
    ]


def timed_flow(records: list[Any], wire: Callable[[Dataflow, Any], None]) -> float:
    flow = Dataflow("bench_storage")
    wire(flow, op.input("in", flow, TestingSource(records, batch_size=1000)))
    started = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - started


def bench_archive(txs: list[Tx], compression: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        sink = DeltaArchiveSink(folder, "transactions", compression, batch_rows=100_000)
        seconds = timed_flow(txs, lambda flow, up: archive("archive", up, sink))
        size = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet"))
    print(
        f"delta   {compression:7s} {len(txs):>8,} rows  {seconds:6.2f} s  "
        f"{len(txs) / seconds:>9,.0f} rows/s/worker  {size / len(txs):6.1f} bytes/row"
    )
    return len(txs) / seconds


def bench_clickhouse(txs: list[Tx], url: str) -> float:
    apply_schema(url)
    sink = ClickHouseSink(url, batch_rows=10_000, max_buffer_rows=100_000)
    seconds = timed_flow(txs, lambda flow, up: write_clickhouse("ch", up, sink))
    print(
        f"clickhouse        {len(txs):>8,} rows  {seconds:6.2f} s  "
        f"{len(txs) / seconds:>9,.0f} rows/s/worker  (batches of 10,000)"
    )
    return len(txs) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--clickhouse-url", help="an existing server's database URL")
    parser.add_argument("--skip-clickhouse", action="store_true")
    args = parser.parse_args()
    txs = synthetic_txs(args.rows)
    for compression in ("zstd", "snappy", "lz4", "gzip"):
        bench_archive(txs, compression)
    if args.skip_clickhouse:
        return
    if args.clickhouse_url:
        bench_clickhouse(txs, args.clickhouse_url)
        return
    from bench.testbed import ClickHouseServer, running

    with tempfile.TemporaryDirectory() as folder, running(ClickHouseServer(Path(folder))) as server:
        bench_clickhouse(txs, server.url("bench"))


if __name__ == "__main__":
    main()
