"""Records ↔ ClickHouse rows for the tables of ``schema.sql`` (pure functions, no I/O).

Every ClickHouse table derives from an archive table spec (``connectors.archive_tables``): which
records it holds and how they flatten into a row, so both stores agree on every field. The
differences are ClickHouse's: ``to`` is ``to_address``, key columns are ``''`` rather than NULL,
nested values are JSON strings, and every table has a DateTime and a Date of the event time for
partitioning and human queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import msgspec

from connectors import archive_tables as at
from operators.records import (
    Alert,
    Block,
    DeadLetter,
    DecodedCall,
    Detection,
    EnrichedTx,
    RuleMatch,
    Swap,
    Tx,
    encode_json,
)

R = TypeVar("R")


def record_from_row(kind: type[R], row: dict[str, Any], json_columns: tuple[str, ...] = ()) -> R:
    """The ``kind`` record of a row whose columns carry its fields by name (``json_columns`` as
    JSON text); columns the record has no field for (dates, versions, ids) are left out."""
    fields = msgspec.structs.fields(kind)  # type: ignore[arg-type]
    values = {f.name: row[f.name] for f in fields if f.name in row}
    for column in json_columns:
        values[column] = msgspec.json.decode(values[column])
    return msgspec.convert(values, kind)


def _with_event_time(row: dict[str, Any], version: int) -> dict[str, Any]:
    """The archive row's ``event_time`` as ClickHouse's ``first_seen`` DateTime and its Date."""
    at_dt = row.pop("event_time")
    row["first_seen"] = at_dt
    row["event_date"] = at_dt.date()
    row["version"] = version
    return row


def _tx_row(row: dict[str, Any], version: int) -> dict[str, Any]:
    row["to_address"] = row.pop("to")
    row["block_hash"] = row["block_hash"] or ""
    row["authorizations"] = encode_json(row["authorizations"]).decode()
    return _with_event_time(row, version)


def tx_from_row(row: dict[str, Any]) -> Tx | EnrichedTx:
    flat = dict(row)
    flat["to"] = flat.pop("to_address")
    flat["block_hash"] = flat["block_hash"] or None
    flat["authorizations"] = msgspec.json.decode(flat["authorizations"])
    tx = at.tx_from_row(flat)
    if flat["kind"] is None:
        return tx
    return EnrichedTx(
        tx=tx,
        kind=flat["kind"],
        call=msgspec.json.decode(flat["call"], type=DecodedCall) if flat["call"] else None,
        swaps=msgspec.json.decode(flat["swaps"], type=tuple[Swap, ...]) if flat["swaps"] else (),
        to_label=flat["to_label"],
        sender_label=flat["sender_label"],
        token=flat["token"],
        token_amount=None if flat["token_amount"] is None else int(flat["token_amount"]),
        counterparty=flat["counterparty"],
    )


def _block_row(row: dict[str, Any], version: int) -> dict[str, Any]:
    row["hash"] = row["hash"] or ""
    row["block_time"] = row.pop("event_time")
    row["event_date"] = row["block_time"].date()
    row["version"] = version
    return row


def block_from_row(row: dict[str, Any]) -> Block:
    """The block's header (its txs, receipts and traces live in their own tables or nowhere)."""
    return Block(
        chain_id=row["chain_id"],
        number=row["number"],
        hash=row["hash"] or None,
        timestamp=row["timestamp"],
        miner=row["miner"],
        base_fee_per_gas=None if row["base_fee_per_gas"] is None else int(row["base_fee_per_gas"]),
        first_seen_ms=row["first_seen_ms"],
        source=row["source"],
        parent_hash=row["parent_hash"],
    )


def _dead_letter_row(row: dict[str, Any], version: int) -> dict[str, Any]:
    row["at"] = row.pop("event_time")
    row["event_date"] = row["at"].date()
    key = [row["stage"], row["reason"], row["payload"], row["source"], row["at_ms"]]
    row["letter_id"] = hashlib.sha256(encode_json(key)).hexdigest()
    row["version"] = version
    return row


@dataclass(frozen=True)
class ClickHouseTable:
    """A ClickHouse table derived from an archive table (``connectors.archive_tables``): the same
    records and rows, with ClickHouse's differences (``adapt``) and its own ORDER BY key."""

    name: str
    archive: at.TableSpec
    # The archive's row and the write version -> the ClickHouse row.
    adapt: Callable[[dict[str, Any], int], dict[str, Any]]
    from_row: Callable[[dict[str, Any]], Any]
    # The natural key (the table's ORDER BY).
    key_columns: tuple[str, ...]

    @property
    def record_types(self) -> tuple[type, ...]:
        return self.archive.record_types

    def to_row(self, record: Any, version: int) -> dict[str, Any]:
        return self.adapt(self.archive.to_row(record), version)


TABLES: tuple[ClickHouseTable, ...] = (
    ClickHouseTable(
        "transactions",
        at.TABLES["transactions"],
        _tx_row,
        tx_from_row,
        ("chain_id", "hash", "block_hash"),
    ),
    ClickHouseTable(
        "blocks", at.TABLES["blocks"], _block_row, block_from_row, ("chain_id", "number", "hash")
    ),
    ClickHouseTable(
        "mev_events",
        at.TABLES["detections"],
        _with_event_time,
        partial(record_from_row, Detection, json_columns=("data",)),
        ("chain_id", "kind", "key"),
    ),
    ClickHouseTable(
        "rule_matches",
        at.TABLES["rule_matches"],
        _with_event_time,
        partial(record_from_row, RuleMatch),
        ("chain_id", "rule_id", "key"),
    ),
    ClickHouseTable(
        "alerts",
        at.TABLES["alerts"],
        _with_event_time,
        partial(record_from_row, Alert, json_columns=("data",)),
        ("chain_id", "key"),
    ),
    ClickHouseTable(
        "dead_letters",
        at.TABLES["dead_letters"],
        _dead_letter_row,
        partial(record_from_row, DeadLetter),
        ("stage", "at_ms", "letter_id"),
    ),
)
_BY_ARCHIVE_TABLE = {table.archive.name: table for table in TABLES}


def table_for(record: Any) -> ClickHouseTable:
    try:
        return _BY_ARCHIVE_TABLE[at.table_for(record).name]
    except (TypeError, KeyError):
        raise TypeError(f"no ClickHouse table holds {type(record).__name__}") from None
