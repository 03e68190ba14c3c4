"""Dashboard stats and tx look-ups over the Parquet archive with DuckDB.

``archive_query`` pages one table in time order; these questions need aggregates and joins, which
DuckDB answers over the same Hive-partitioned files (copies of a row are dropped by key first).
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

_TIME = "event_time"


def _glob(archive: str, table: str) -> str | None:
    root = Path(archive.removeprefix("file://")) / table
    if not root.is_dir() or not any(root.rglob("*.parquet")):
        return None
    return str(root / "**" / "*.parquet")


def _connect() -> Any:
    import duckdb

    return duckdb.connect(":memory:")


def _where(
    start: datetime | None, end: datetime | None, chains: tuple[int, ...]
) -> tuple[str, list[Any]]:
    parts: list[str] = ["1=1"]
    args: list[Any] = []
    if start is not None:
        parts.append(f"{_TIME} >= ?")
        args.append(start)
    if end is not None:
        parts.append(f"{_TIME} < ?")
        args.append(end)
    if chains:
        parts.append(f"chain IN ({','.join('?' * len(chains))})")
        args.extend(chains)
    return " AND ".join(parts), args


def _table(glob: str, key: str) -> str:
    # hive_partitioning gives the chain/date/hour columns; DISTINCT ON drops archived copies.
    return (
        f"(SELECT DISTINCT ON ({key}) * FROM read_parquet('{glob}', hive_partitioning=true, "
        "union_by_name=true))"
    )


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [{n: _iso(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def stats(
    archive: str,
    start: datetime | None,
    end: datetime | None,
    chains: tuple[int, ...],
    bucket_s: int,
) -> dict[str, Any]:
    con = _connect()
    where, args = _where(start, end, chains)
    result: dict[str, Any] = {
        "source": "archive",
        "counts": [],
        "top_searchers": [],
        "victim_losses": [],
        "inclusion_latency_ms": None,
        "confirmation_rate": [],
    }
    detections = _glob(archive, "detections")
    if detections:
        table = _table(detections, "key")
        result["counts"] = _rows(
            con.execute(
                f"SELECT to_timestamp(floor(epoch({_TIME}) / {bucket_s}) * {bucket_s}) AS bucket, "
                f"chain AS chain_id, kind, count(*) AS count FROM {table} WHERE {where} "
                "GROUP BY ALL ORDER BY bucket, chain_id, kind",
                args,
            )
        )
        searcher = (
            "coalesce(json_extract_string(data, '$.sandwicher'), "
            "json_extract_string(data, '$.account'), json_extract_string(data, '$.searcher'))"
        )
        profit = "TRY_CAST(json_extract_string(data, '$.profit_amount') AS HUGEINT)"
        token = "json_extract_string(data, '$.profit_token')"
        # Profits are in their token's base units: summed per (searcher, token), never across.
        result["top_searchers"] = _rows(
            con.execute(
                f"SELECT chain AS chain_id, {searcher} AS searcher, {token} AS profit_token, "
                f"CAST(sum({profit}) AS VARCHAR) AS profit_amount, count(*) AS count "
                f"FROM {table} WHERE {where} AND kind IN ('sandwich', 'arbitrage') "
                f"AND {searcher} IS NOT NULL GROUP BY ALL ORDER BY sum({profit}) DESC NULLS LAST "
                "LIMIT 20",
                args,
            )
        )
        # What the sandwiches' victims lost is what their sandwichers took (per profit token).
        result["victim_losses"] = _rows(
            con.execute(
                f"SELECT chain AS chain_id, {token} AS token, "
                f"CAST(sum({profit}) AS VARCHAR) AS loss_amount, "
                "CAST(sum(coalesce(json_array_length(data, '$.victims'), 0)) AS BIGINT) AS victims, "
                f"count(*) AS sandwiches FROM {table} WHERE {where} AND kind = 'sandwich' "
                "GROUP BY ALL ORDER BY chain_id, token",
                args,
            )
        )
        # Per mempool detector: its alerts, and how many a mined sandwich later confirmed.
        result["confirmation_rate"] = _rows(
            con.execute(
                f"WITH d AS (SELECT * FROM {table} WHERE {where}) "
                "SELECT a.kind, count(*) AS predicted, ("
                "SELECT count(*) FROM d p WHERE p.kind = 'sandwich_predicted' "
                "AND json_extract_string(p.data, '$.predicted_by') = a.kind) AS confirmed "
                "FROM d a WHERE a.kind IN ('sandwich_attempt', 'sandwichable_victim', "
                "'frontrun_copy') GROUP BY a.kind ORDER BY a.kind",
                args,
            )
        )
        for row in result["confirmation_rate"]:
            row["rate"] = (
                round(row["confirmed"] / row["predicted"], 4) if row["predicted"] else None
            )
    txs = _glob(archive, "transactions")
    if txs:
        # A mined tx archived with its pending first-seen time: inclusion latency is the block's
        # time minus first seen, when the block is archived too.
        blocks = _glob(archive, "blocks")
        if blocks:
            table = _table(txs, "chain_id, hash, block_number")
            btable = _table(blocks, "chain_id, hash")
            latency = _rows(
                con.execute(
                    "SELECT quantile_cont(l, 0.5) AS p50, quantile_cont(l, 0.9) AS p90, "
                    "quantile_cont(l, 0.99) AS p99, count(*) AS count FROM ("
                    f"SELECT epoch_ms(b.event_time) - min(t.first_seen_ms) AS l FROM {table} t "
                    f"JOIN {btable} b ON b.chain_id = t.chain_id AND b.hash = t.block_hash "
                    f"WHERE {where.replace(_TIME, 't.' + _TIME).replace('chain IN', 't.chain IN')} "
                    "GROUP BY t.chain_id, t.hash, b.event_time HAVING min(t.first_seen_ms) < epoch_ms(b.event_time))",
                    args,
                )
            )
            if latency and latency[0]["count"]:
                result["inclusion_latency_ms"] = latency[0]
    con.close()
    return result


def _decode(row: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if isinstance(row.get(name), str):
            with contextlib.suppress(ValueError):
                row[name] = json.loads(row[name])
    return row


def transaction(archive: str, tx_hash: str) -> dict[str, Any] | None:
    """A tx by hash: every archived version (pending, mined), what names it, and its lifecycle."""
    txs = _glob(archive, "transactions")
    if txs is None:
        return None
    con = _connect()
    versions = _rows(
        con.execute(
            f"SELECT * FROM read_parquet('{txs}', hive_partitioning=true, union_by_name=true) "
            "WHERE hash = ? ORDER BY block_number NULLS FIRST, first_seen_ms",
            [tx_hash],
        )
    )
    if not versions:
        con.close()
        return None
    detections: list[dict[str, Any]] = []
    glob = _glob(archive, "detections")
    if glob:
        detections = [
            _decode(r, "data")
            for r in _rows(
                con.execute(
                    f"SELECT * FROM {_table(glob, 'key')} WHERE list_contains(tx_hashes, ?) "
                    f"ORDER BY {_TIME}",
                    [tx_hash],
                )
            )
        ]
    matches: list[dict[str, Any]] = []
    glob = _glob(archive, "rule_matches")
    if glob:
        matches = _rows(
            con.execute(
                f"SELECT * FROM {_table(glob, 'key')} WHERE tx_hash = ? ORDER BY {_TIME}", [tx_hash]
            )
        )
    con.close()
    pending = [v for v in versions if v.get("block_number") is None]
    mined = [v for v in versions if v.get("block_number") is not None]
    first = min(versions, key=lambda v: v["first_seen_ms"])
    latest = mined[-1] if mined else versions[-1]
    replaced_by = next(
        (
            d.get("data", {}).get("replacement")
            for d in detections
            if d.get("kind") == "replacement"
        ),
        None,
    )
    state = "included" if mined else ("replaced" if replaced_by else "pending")
    lifecycle: dict[str, Any] = {
        "first_seen_ms": first["first_seen_ms"],
        "first_seen_by": first.get("source"),
        "state": state,
        "block_number": mined[-1]["block_number"] if mined else None,
        "seen_pending": bool(pending),
        "inclusion_latency_ms": None,
        "replaced_by": replaced_by,
    }
    tx = _decode(dict(latest), "call", "swaps")
    return {
        "tx": tx,
        "lifecycle": lifecycle,
        "call": tx.get("call"),
        "swaps": tx.get("swaps") or [],
        "detections": detections,
        "rule_matches": matches,
    }


def block_mev(archive: str, chain_id: int, number: int) -> list[dict[str, Any]]:
    glob = _glob(archive, "detections")
    if glob is None:
        return []
    con = _connect()
    rows = _rows(
        con.execute(
            f"SELECT * FROM {_table(glob, 'key')} WHERE chain = ? AND block_number = ? "
            "ORDER BY kind, key",
            [chain_id, number],
        )
    )
    con.close()
    return [_decode(r, "data") for r in rows]
