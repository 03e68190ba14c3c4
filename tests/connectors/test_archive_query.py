"""The Time Machine query layer and retention, on a local folder and on S3 (moto server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from connectors.archive_query import (
    Filters,
    QueryError,
    delete_older_than,
    files_to_read,
    iter_rows,
    query,
)
from connectors.archive_tables import tx_from_row
from connectors.delta_archive import DeltaArchiveSink
from flows.steps.archive import archive
from operators.records import Tx
from tests.connectors.samples import HOUR_MS, T0_MS, make_detection, make_enriched, make_tx
from tests.services.s3 import S3Archive

T0 = datetime.fromtimestamp(T0_MS / 1000, UTC)  # 2023-08-04 22:04:46.723


def write(
    where: S3Archive, records: list[Any], table: str = "transactions", batch_rows: int = 100_000
) -> None:
    flow = Dataflow("query_test")
    sink = DeltaArchiveSink(
        where.url, table, batch_rows=batch_rows, storage_options=where.storage_options
    )
    archive("archive", op.input("in", flow, TestingSource(records)), sink)
    run_main(flow)


def hashes(rows: list[dict[str, Any]]) -> list[str]:
    return [r["hash"] for r in rows]


# Six hours on two chains: hour h holds txs 10h..10h+4 on chain 1 and 10h+5..10h+9 on Base,
# seen at T0 + h hours + 0..9 ms.
TXS = [
    make_tx(10 * h + j, chain_id=1 if j < 5 else 8453, seen_ms=T0_MS + h * HOUR_MS - 10 * h)
    for h in range(6)
    for j in range(10)
]


def test_time_range_and_chain_prune_files_by_date_and_statistics(where: S3Archive) -> None:
    write(where, TXS, batch_rows=10)  # one commit, hence one file, per hour of TXS
    filters = Filters(start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=4), chains=(8453,))
    opened = files_to_read(where.url, "transactions", filters, where.storage_options)
    # [00:04:46, 02:04:46) on 2023-08-05: the files of hours 2 and 3 of TXS, by their min/max
    # event time; hours 0 and 1 are on 2023-08-04 and pruned by date.
    assert len(opened) == 2
    assert {p.split("/transactions/")[1].rsplit("/", 1)[0] for p in opened} == {"date=2023-08-05"}
    assert len(files_to_read(where.url, "transactions", Filters(), where.storage_options)) == 6
    assert (
        files_to_read(where.url, "transactions", Filters(chains=(84530,)), where.storage_options)
        == []
    )
    page = query(where.url, "transactions", filters, storage_options=where.storage_options)
    expected = [
        tx
        for tx in TXS
        if tx.chain_id == 8453 and 2 * HOUR_MS <= tx.first_seen_ms - T0_MS < 4 * HOUR_MS
    ]
    assert hashes(page.rows) == [tx.hash for tx in sorted(expected, key=lambda t: t.first_seen_ms)]
    assert page.next_cursor is None


def test_time_range_is_exact_to_the_millisecond_inside_an_hour(where: S3Archive) -> None:
    write(where, TXS)
    start = T0 + timedelta(milliseconds=2)
    end = T0 + timedelta(milliseconds=5)
    rows = query(
        where.url,
        "transactions",
        Filters(start=start, end=end),
        storage_options=where.storage_options,
    ).rows
    assert sorted(r["first_seen_ms"] for r in rows) == [T0_MS + 2, T0_MS + 3, T0_MS + 4]


def test_sender_to_selector_kind_and_exact_min_value(where: S3Archive) -> None:
    whale = make_tx(1000, value=2**256 - 1)
    just_below = make_tx(1001, value=2**256 - 2)
    swap = make_enriched(1002)
    write(where, [*TXS[:10], whale, just_below, swap])
    written = [*TXS[:10], whale, just_below, swap.tx]
    opts = where.storage_options

    def ask(**kwargs: Any) -> list[str]:
        return sorted(
            hashes(query(where.url, "transactions", Filters(**kwargs), storage_options=opts).rows)
        )

    assert ask(sender=TXS[3].sender.upper().replace("0X", "0x")) == [TXS[3].hash]
    assert ask(to=TXS[2].to) == [TXS[2].hash]
    assert ask(selector="0xa9059cbb") == sorted(
        t.hash for t in written if t.selector == "0xa9059cbb"
    )
    assert ask(kind="swap") == [swap.tx.hash]
    # Both uint256 values are the same float64; only the exact check tells them apart.
    assert ask(min_value=2**256 - 1) == [whale.hash]
    assert ask(min_value=5 * 10**17) == sorted(t.hash for t in written if t.value >= 5 * 10**17)


def test_pages_walk_every_row_once_in_event_time_order(where: S3Archive) -> None:
    write(where, TXS)
    write(where, TXS[:20])  # copies, as a replay after a recovery could leave
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = query(
            where.url, "transactions", limit=7, cursor=cursor, storage_options=where.storage_options
        )
        seen += hashes(page.rows)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [tx.hash for tx in sorted(TXS, key=lambda t: (t.first_seen_ms, t.hash))]
    assert pages == -(-len(TXS) // 7)


def test_iter_rows_yields_hour_by_hour_and_rebuilds_txs(where: S3Archive) -> None:
    write(where, TXS)
    hours = list(
        iter_rows(
            where.url, "transactions", Filters(chains=(1,)), storage_options=where.storage_options
        )
    )
    assert [h for h, _ in hours] == sorted(h for h, _ in hours) and len(hours) == 6
    replayed: list[Tx] = [tx_from_row(r) for _, rows in hours for r in rows]
    assert replayed == sorted(
        (t for t in TXS if t.chain_id == 1), key=lambda t: (t.first_seen_ms, t.hash)
    )


def test_other_tables_and_inapplicable_filters(where: S3Archive) -> None:
    write(where, [make_detection(i) for i in range(4)], table="detections")
    rows = query(
        where.url, "detections", Filters(kind="sandwich"), storage_options=where.storage_options
    ).rows
    assert [r["key"] for r in rows] == [f"sandwich:1:{i}" for i in range(4)]
    with pytest.raises(QueryError, match="selector"):
        query(
            where.url,
            "detections",
            Filters(selector="0x12345678"),
            storage_options=where.storage_options,
        )


def test_an_empty_archive_answers_an_empty_page(where: S3Archive) -> None:
    page = query(
        where.url, "transactions", Filters(chains=(1,)), storage_options=where.storage_options
    )
    assert page.rows == [] and page.next_cursor is None


def test_retention_deletes_only_days_older_than_the_cutoff(where: S3Archive) -> None:
    days = [make_tx(i, seen_ms=T0_MS + i * 24 * HOUR_MS) for i in range(4)]  # Aug 4, 5, 6, 7
    write(where, days)
    write(where, [make_detection(0)], table="detections")  # Aug 4 too
    removed = delete_older_than(
        where.url, 2, today=date(2023, 8, 8), storage_options=where.storage_options
    )
    assert sorted(removed) == [
        "detections/date=2023-08-04",
        "transactions/date=2023-08-04",
        "transactions/date=2023-08-05",
    ]
    left = query(where.url, "transactions", storage_options=where.storage_options).rows
    assert sorted(hashes(left)) == sorted(t.hash for t in days[2:])
    assert query(where.url, "detections", storage_options=where.storage_options).rows == []
