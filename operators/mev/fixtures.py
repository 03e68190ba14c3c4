"""Blocks in the mev-fixtures format (mev-inspect-py's test blocks) as ``Block`` records.

The format is Parity ``trace_block`` output with snake_case envelope keys (``trace_address``,
``transaction_hash``, ...) around the usual camelCase ``action`` / ``result`` objects, plus
receipt summaries; see tests/data/mev/README.md. Blocks without a timestamp get 0.
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from operators.records import Block, Receipt, Trace

CHAIN_ID = 1  # the fixtures are Ethereum mainnet blocks


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(value, 16) if value.startswith(("0x", "0X")) else int(value)


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def trace_from_parts(
    kind: str,
    action: dict[str, Any],
    result: dict[str, Any] | None,
    *,
    tx_hash: str | None,
    tx_position: int | None,
    trace_address: list[int],
    error: str | None,
    subtraces: int,
) -> Trace:
    """A ``Trace`` from the parts of a Parity trace (their shape is the same in every dialect)."""
    result = result or {}
    if kind == "create":
        sender, to = action.get("from"), result.get("address")
        call_input, output = action.get("init", "0x"), result.get("code")
    elif kind == "suicide":
        sender, to = action.get("address"), action.get("refundAddress")
        call_input, output = "0x", None
    elif kind == "reward":
        sender, to = None, action.get("author")
        call_input, output = "0x", None
    else:
        sender, to = action.get("from"), action.get("to")
        call_input, output = action.get("input", "0x"), result.get("output")
    value = action.get("balance") if kind == "suicide" else action.get("value")
    gas_used = result.get("gasUsed")
    return Trace(
        tx_hash=_lower(tx_hash),
        tx_position=tx_position,
        trace_address=tuple(trace_address),
        type=kind,
        call_type=action.get("callType"),
        sender=_lower(sender),
        to=_lower(to),
        value=_int(value),
        gas=_int(action.get("gas")),
        input=(call_input or "0x").lower(),
        output=output,
        gas_used=_int(gas_used) if gas_used is not None else None,
        error=error,
        subtraces=subtraces,
    )


def fixture_trace(obj: dict[str, Any]) -> Trace:
    return trace_from_parts(
        obj["type"],
        obj["action"],
        obj.get("result"),
        tx_hash=obj.get("transaction_hash"),
        tx_position=obj.get("transaction_position"),
        trace_address=obj.get("trace_address") or [],
        error=obj.get("error"),
        subtraces=obj.get("subtraces", 0),
    )


def block_from_fixture(obj: dict[str, Any], source: str = "mev-fixture") -> Block:
    traces = tuple(fixture_trace(t) for t in obj["traces"])
    receipts = tuple(
        Receipt(
            tx_hash=r["transaction_hash"].lower(),
            tx_index=r["transaction_index"],
            status=None,
            gas_used=r["gas_used"],
            effective_gas_price=r.get("effective_gas_price"),
            to=_lower(r.get("to")),
        )
        for r in obj.get("receipts", ())
    )
    timestamp = obj.get("block_timestamp") or 0
    block_hash = next((t.get("block_hash") for t in obj["traces"] if t.get("block_hash")), None)
    return Block(
        chain_id=CHAIN_ID,
        number=obj["block_number"],
        hash=block_hash,
        timestamp=timestamp,
        miner=_lower(obj.get("miner")),
        base_fee_per_gas=obj.get("base_fee_per_gas"),
        first_seen_ms=timestamp * 1000,
        source=source,
        receipts=receipts,
        traces=traces,
    )


def load_block(path: str) -> Block:
    """A fixture block from ``path`` (``.json`` or gzip-compressed ``.json.gz``)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        return block_from_fixture(orjson.loads(file.read()), source=f"file:{path}")
