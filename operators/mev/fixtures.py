"""Blocks in the mev-fixtures format (mev-inspect-py's test blocks) as ``Block`` records.

The format is Parity ``trace_block`` output with snake_case envelope keys (``trace_address``,
``transaction_hash``, ...) around the usual camelCase ``action`` / ``result`` objects, plus
receipt summaries (schema: the mev-fixtures README, origin: tests/data/mev/README.md). Blocks
without a timestamp get 0.
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from operators.normalize import parse_trace
from operators.records import Block, Receipt, Trace

CHAIN_ID = 1  # the fixtures are Ethereum mainnet blocks


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def fixture_trace(obj: dict[str, Any]) -> Trace:
    """One fixture trace: the RPC trace with its envelope keys in snake_case, so it is renamed
    and read by the normalizer's own ``parse_trace`` (raises ``Malformed``)."""
    return parse_trace(
        {
            "action": obj.get("action"),
            "result": obj.get("result"),
            "error": obj.get("error"),
            "subtraces": obj.get("subtraces", 0),
            "traceAddress": obj.get("trace_address"),
            "transactionHash": obj.get("transaction_hash"),
            "transactionPosition": obj.get("transaction_position"),
            "type": obj.get("type"),
        }
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
