"""The archive's tables: one Arrow schema per table and pure functions record → row.

Shared by the Delta archive sink (writing), the Time Machine (reading, pruning), the replay source
(row → ``Tx``) and ClickHouse's rows. No I/O here.

Amounts are uint256 in Ethereum and do not fit any Arrow integer type (decimal256 stops at 76
digits, 2**256 has 78), so every amount column is its exact decimal string. ``value`` also gets a
``value_eth`` float64 twin for fast filters and charts; exact comparisons re-check the string.

The schemas here are what readers get; the Delta tables store the unsigned 64-bit fields (nonce,
gas) as ``decimal(20, 0)`` (``connectors.delta_archive.delta_schema``).

Every table is partitioned by the record's event date (``event_date``: first-seen ms for txs and
findings, block timestamp for blocks, ``at_ms`` for dead letters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pyarrow as pa

from operators.records import (
    Alert,
    Authorization,
    Block,
    DeadLetter,
    Detection,
    EnrichedTx,
    RuleMatch,
    Tx,
    encode_json,
)

WEI_PER_ETH = 10**18
HOUR_MS = 3_600_000

DAY_MS = 24 * HOUR_MS


def _amount(value: int | None) -> str | None:
    return None if value is None else str(value)


def _json(value: Any) -> str | None:
    if value is None or value == () or value == {}:
        return None
    return encode_json(value).decode()


def _event_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def event_date(event_ms: int) -> str:
    """The date partition (YYYY-MM-DD, UTC) of a record's event time."""
    return _day(event_ms // DAY_MS)


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    # Formatting dates is a large share of the sink's per-row cost; a stream touches few days.
    return f"{_event_dt(day * DAY_MS):%Y-%m-%d}"


# --- transactions ------------------------------------------------------------------------------

_AUTHORIZATION = pa.struct(
    [
        ("chain_id", pa.string()),
        ("address", pa.string()),
        ("nonce", pa.uint64()),
        ("authority", pa.string()),
    ]
)

TX_SCHEMA = pa.schema(
    [
        ("chain_id", pa.int64()),
        ("hash", pa.string()),
        ("sender", pa.string()),
        ("to", pa.string()),
        ("nonce", pa.uint64()),
        ("value", pa.string()),
        ("value_eth", pa.float64()),
        ("gas", pa.uint64()),
        ("tx_type", pa.int32()),
        ("input", pa.string()),
        ("selector", pa.string()),
        ("first_seen_ms", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("source", pa.string()),
        ("gas_price", pa.string()),
        ("max_fee_per_gas", pa.string()),
        ("max_priority_fee_per_gas", pa.string()),
        ("max_fee_per_blob_gas", pa.string()),
        ("blob_versioned_hashes", pa.list_(pa.string())),
        ("authorizations", pa.list_(_AUTHORIZATION)),
        ("block_number", pa.int64()),
        ("block_hash", pa.string()),
        ("tx_index", pa.int32()),
        ("mint", pa.string()),
        ("source_hash", pa.string()),
        # Enrichment (null when a bare Tx was archived).
        ("kind", pa.string()),
        ("method", pa.string()),
        ("call", pa.string()),
        ("swaps", pa.string()),
        ("to_label", pa.string()),
        ("sender_label", pa.string()),
        ("token", pa.string()),
        ("token_amount", pa.string()),
        ("counterparty", pa.string()),
        # Mined txs: "true" / "false" / "unknown" private order flow (operators/mev/private.py).
        ("private", pa.string()),
    ]
)


# The enrichment columns of a bare Tx.
_NOT_ENRICHED: tuple[Any, ...] = (None,) * 9


def tx_row(record: Tx | EnrichedTx) -> dict[str, Any]:
    if isinstance(record, EnrichedTx):
        tx = record.tx
        call = record.call
        swaps = record.swaps
        token_amount = record.token_amount
        # _json's emptiness tests, by type: comparing a struct with () and {} costs as much as
        # encoding it.
        enrichment: tuple[Any, ...] = (
            record.kind,
            None if call is None else call.method,
            None if call is None else encode_json(call).decode(),
            None if swaps == () else encode_json(swaps).decode(),
            record.to_label,
            record.sender_label,
            record.token,
            None if token_amount is None else str(token_amount),
            record.counterparty,
        )
    else:
        tx = record
        enrichment = _NOT_ENRICHED
    assert isinstance(tx, Tx)
    # Optional amounts inline rather than through _amount: a call each is a tenth of the row.
    kind, method, call_json, swaps_json, to_label, sender_label, token, amount, counterparty = (
        enrichment
    )
    gas_price, max_fee, max_tip, blob_fee, mint = (
        tx.gas_price,
        tx.max_fee_per_gas,
        tx.max_priority_fee_per_gas,
        tx.max_fee_per_blob_gas,
        tx.mint,
    )
    return {
        "chain_id": tx.chain_id,
        "hash": tx.hash,
        "sender": tx.sender,
        "to": tx.to,
        "nonce": tx.nonce,
        "value": str(tx.value),
        "value_eth": tx.value / WEI_PER_ETH,
        "gas": tx.gas,
        "tx_type": tx.tx_type,
        "input": tx.input,
        "selector": tx.selector,
        "first_seen_ms": tx.first_seen_ms,
        "event_time": _event_dt(tx.first_seen_ms),
        "source": tx.source,
        "gas_price": None if gas_price is None else str(gas_price),
        "max_fee_per_gas": None if max_fee is None else str(max_fee),
        "max_priority_fee_per_gas": None if max_tip is None else str(max_tip),
        "max_fee_per_blob_gas": None if blob_fee is None else str(blob_fee),
        "blob_versioned_hashes": list(tx.blob_versioned_hashes),
        "authorizations": [
            {
                "chain_id": str(a.chain_id),
                "address": a.address,
                "nonce": a.nonce,
                "authority": a.authority,
            }
            for a in tx.authorizations
        ],
        "block_number": tx.block_number,
        "block_hash": tx.block_hash,
        "tx_index": tx.tx_index,
        "mint": None if mint is None else str(mint),
        "source_hash": tx.source_hash,
        "kind": kind,
        "method": method,
        "call": call_json,
        "swaps": swaps_json,
        "to_label": to_label,
        "sender_label": sender_label,
        "token": token,
        "token_amount": amount,
        "counterparty": counterparty,
        "private": tx.private,
    }


def _int(text: str | int | Decimal | None) -> int | None:
    # Amounts are decimal strings; uint64 columns come back as int or (from Delta) Decimal.
    return None if text is None else int(text)


def tx_from_row(row: dict[str, Any]) -> Tx:
    """The exact ``Tx`` an archived row was made from (the replay's inverse of ``tx_row``)."""
    return Tx(
        chain_id=row["chain_id"],
        hash=row["hash"],
        sender=row["sender"],
        to=row["to"],
        nonce=_int(row["nonce"]),
        value=int(row["value"]),
        gas=int(row["gas"]),
        tx_type=row["tx_type"],
        input=row["input"],
        selector=row["selector"],
        first_seen_ms=row["first_seen_ms"],
        source=row["source"],
        gas_price=_int(row["gas_price"]),
        max_fee_per_gas=_int(row["max_fee_per_gas"]),
        max_priority_fee_per_gas=_int(row["max_priority_fee_per_gas"]),
        max_fee_per_blob_gas=_int(row["max_fee_per_blob_gas"]),
        blob_versioned_hashes=tuple(row["blob_versioned_hashes"] or ()),
        authorizations=tuple(
            Authorization(
                chain_id=int(a["chain_id"]),
                address=a["address"],
                nonce=int(a["nonce"]),
                authority=a["authority"],
            )
            for a in row["authorizations"] or ()
        ),
        block_number=row["block_number"],
        block_hash=row["block_hash"],
        tx_index=row["tx_index"],
        mint=_int(row["mint"]),
        source_hash=row["source_hash"],
        private=row.get("private"),
    )


# --- blocks ------------------------------------------------------------------------------------

BLOCK_SCHEMA = pa.schema(
    [
        ("chain_id", pa.int64()),
        ("number", pa.int64()),
        ("hash", pa.string()),
        ("parent_hash", pa.string()),
        ("timestamp", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("miner", pa.string()),
        ("base_fee_per_gas", pa.string()),
        ("tx_count", pa.int32()),
        ("trace_count", pa.int32()),
        ("first_seen_ms", pa.int64()),
        ("source", pa.string()),
        # Txs by private status (null before the private-flow step saw the block).
        ("private_txs", pa.int32()),
        ("public_txs", pa.int32()),
        ("unknown_txs", pa.int32()),
    ]
)


def _status_count(block: Block, status: str) -> int | None:
    return block.tx_private.count(status) if block.tx_private else None


def block_row(block: Block) -> dict[str, Any]:
    return {
        "chain_id": block.chain_id,
        "number": block.number,
        "hash": block.hash,
        "parent_hash": block.parent_hash,
        "timestamp": block.timestamp,
        "event_time": _event_dt(block.timestamp * 1000),
        "miner": block.miner,
        "base_fee_per_gas": _amount(block.base_fee_per_gas),
        "tx_count": len(block.txs),
        "trace_count": len(block.traces),
        "first_seen_ms": block.first_seen_ms,
        "source": block.source,
        "private_txs": _status_count(block, "true"),
        "public_txs": _status_count(block, "false"),
        "unknown_txs": _status_count(block, "unknown"),
    }


# --- findings and outputs ----------------------------------------------------------------------

DETECTION_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("kind", pa.string()),
        ("chain_id", pa.int64()),
        ("tx_hashes", pa.list_(pa.string())),
        ("first_seen_ms", pa.int64()),
        ("detected_ms", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("severity", pa.string()),
        ("block_number", pa.int64()),
        # The detector's specifics as JSON (ints exact).
        ("data", pa.string()),
    ]
)


def detection_row(d: Detection) -> dict[str, Any]:
    return {
        "key": d.key,
        "kind": d.kind,
        "chain_id": d.chain_id,
        "tx_hashes": list(d.tx_hashes),
        "first_seen_ms": d.first_seen_ms,
        "detected_ms": d.detected_ms,
        "event_time": _event_dt(d.first_seen_ms),
        "severity": d.severity,
        "block_number": d.block_number,
        "data": encode_json(d.data).decode(),
    }


RULE_MATCH_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("rule_id", pa.string()),
        ("severity", pa.string()),
        ("message", pa.string()),
        ("chain_id", pa.int64()),
        ("tx_hash", pa.string()),
        ("first_seen_ms", pa.int64()),
        ("matched_ms", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("tags", pa.list_(pa.string())),
    ]
)


def rule_match_row(m: RuleMatch) -> dict[str, Any]:
    return {
        "key": m.key,
        "rule_id": m.rule_id,
        "severity": m.severity,
        "message": m.message,
        "chain_id": m.chain_id,
        "tx_hash": m.tx_hash,
        "first_seen_ms": m.first_seen_ms,
        "matched_ms": m.matched_ms,
        "event_time": _event_dt(m.first_seen_ms),
        "tags": list(m.tags),
    }


ALERT_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("origin", pa.string()),
        ("severity", pa.string()),
        ("title", pa.string()),
        ("chain_id", pa.int64()),
        ("tx_hashes", pa.list_(pa.string())),
        ("first_seen_ms", pa.int64()),
        ("created_ms", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("tags", pa.list_(pa.string())),
        ("data", pa.string()),
    ]
)


def alert_row(a: Alert) -> dict[str, Any]:
    return {
        "key": a.key,
        "origin": a.origin,
        "severity": a.severity,
        "title": a.title,
        "chain_id": a.chain_id,
        "tx_hashes": list(a.tx_hashes),
        "first_seen_ms": a.first_seen_ms,
        "created_ms": a.created_ms,
        "event_time": _event_dt(a.first_seen_ms),
        "tags": list(a.tags),
        "data": encode_json(a.data).decode(),
    }


DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("stage", pa.string()),
        ("reason", pa.string()),
        ("payload", pa.string()),
        ("source", pa.string()),
        ("chain_id", pa.int64()),
        ("at_ms", pa.int64()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
    ]
)


def dead_letter_row(d: DeadLetter) -> dict[str, Any]:
    return {
        "stage": d.stage,
        "reason": d.reason,
        "payload": d.payload,
        "source": d.source,
        "chain_id": d.chain_id,
        "at_ms": d.at_ms,
        "event_time": _event_dt(d.at_ms),
    }


# --- the table catalogue -----------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """How one archive table is written: its schema, row function and partition facts.

    ``key_columns`` is the natural key: rows equal on it are copies of one fact (a replay after a
    recovery may archive a row twice; readers drop the copies by this key).
    """

    name: str
    schema: pa.Schema
    record_types: tuple[type, ...]
    to_row: Callable[[Any], dict[str, Any]]
    event_ms: Callable[[Any], int]
    chain_id: Callable[[Any], int | None]
    key_columns: tuple[str, ...]


def _tx_of(record: Tx | EnrichedTx) -> Tx:
    return record.tx if isinstance(record, EnrichedTx) else record


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "transactions",
            TX_SCHEMA,
            (Tx, EnrichedTx),
            tx_row,
            lambda r: _tx_of(r).first_seen_ms,
            lambda r: _tx_of(r).chain_id,
            # A pending and a mined sighting of one tx are two facts.
            ("chain_id", "hash", "block_hash"),
        ),
        TableSpec(
            "blocks",
            BLOCK_SCHEMA,
            (Block,),
            block_row,
            lambda b: b.timestamp * 1000,
            lambda b: b.chain_id,
            ("chain_id", "number", "hash"),
        ),
        TableSpec(
            "detections",
            DETECTION_SCHEMA,
            (Detection,),
            detection_row,
            lambda d: d.first_seen_ms,
            lambda d: d.chain_id,
            ("key",),
        ),
        TableSpec(
            "rule_matches",
            RULE_MATCH_SCHEMA,
            (RuleMatch,),
            rule_match_row,
            lambda m: m.first_seen_ms,
            lambda m: m.chain_id,
            ("key",),
        ),
        TableSpec(
            "alerts",
            ALERT_SCHEMA,
            (Alert,),
            alert_row,
            lambda a: a.first_seen_ms,
            lambda a: a.chain_id,
            ("key",),
        ),
        TableSpec(
            "dead_letters",
            DEAD_LETTER_SCHEMA,
            (DeadLetter,),
            dead_letter_row,
            lambda d: d.at_ms,
            lambda d: d.chain_id,
            ("stage", "reason", "payload", "source", "at_ms"),
        ),
    )
}


def table_for(record: Any) -> TableSpec:
    """The table a record belongs in (TypeError for a record no table holds)."""
    for spec in TABLES.values():
        if isinstance(record, spec.record_types):
            return spec
    raise TypeError(f"no archive table holds {type(record).__name__}")


def routing_key(record: Any) -> str:
    """A stable key of a record that spreads records over the sink's partitions."""
    kind = type(record)  # the commonest records by their exact type first: one test each
    if kind is EnrichedTx:
        return record.tx.hash
    if kind is DeadLetter:
        return f"{record.stage}:{record.at_ms}"
    if isinstance(record, EnrichedTx):
        return record.tx.hash
    if isinstance(record, Tx):
        return record.hash
    if isinstance(record, Detection | RuleMatch | Alert):
        return record.key
    if isinstance(record, Block):
        return f"{record.chain_id}:{record.number}"
    if isinstance(record, DeadLetter):
        return f"{record.stage}:{record.at_ms}"
    raise TypeError(f"no archive table holds {type(record).__name__}")
