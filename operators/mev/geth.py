"""geth's ``debug_traceBlockByNumber`` with ``{"tracer": "callTracer"}`` as Parity-style traces.

The call tracer returns one nested call tree per transaction; flattening it depth-first gives the
frames in the order and with the addresses (``trace_address``) of ``trace_block``. geth says
"execution reverted" where Parity says "Reverted"; the Parity word is kept so errors read the
same whatever the node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from operators.records import Trace

_CALL_TYPES = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
_CREATE_TYPES = {"CREATE", "CREATE2"}


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(value, 16)


def _error(frame: dict[str, Any]) -> str | None:
    error = frame.get("error")
    if error is None:
        return None
    return "Reverted" if error == "execution reverted" else str(error)


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _flatten(
    frame: dict[str, Any],
    tx_hash: str | None,
    position: int,
    address: tuple[int, ...],
    out: list[Trace],
) -> None:
    kind = str(frame.get("type", "CALL")).upper()
    children = frame.get("calls") or []
    if kind in _CREATE_TYPES:
        trace_type, call_type = "create", None
    elif kind == "SELFDESTRUCT":
        trace_type, call_type = "suicide", None
    else:
        trace_type, call_type = "call", kind.lower() if kind in _CALL_TYPES else None
    gas_used = frame.get("gasUsed")
    out.append(
        Trace(
            tx_hash=tx_hash,
            tx_position=position,
            trace_address=address,
            type=trace_type,
            call_type=call_type,
            sender=_lower(frame.get("from")),
            to=_lower(frame.get("to")),
            value=_int(frame.get("value")),
            gas=_int(frame.get("gas")),
            input=str(frame.get("input") or "0x").lower(),
            output=frame.get("output"),
            gas_used=_int(gas_used) if gas_used is not None else None,
            error=_error(frame),
            subtraces=len(children),
        )
    )
    for index, child in enumerate(children):
        _flatten(child, tx_hash, position, (*address, index), out)


def traces_from_call_tracer(
    result: Sequence[dict[str, Any]], tx_hashes: Sequence[str] | None = None
) -> list[Trace]:
    """Flatten a block's call-tracer result (one entry per tx, in block order).

    Entries are ``{"txHash": ..., "result": {call tree}}`` (geth 1.11+); older nodes omit
    ``txHash``, then ``tx_hashes`` (from the block body) names the transactions.
    """
    traces: list[Trace] = []
    for position, entry in enumerate(result):
        tree = entry.get("result", entry)
        tx_hash = entry.get("txHash")
        if tx_hash is None and tx_hashes is not None and position < len(tx_hashes):
            tx_hash = tx_hashes[position]
        _flatten(tree, _lower(tx_hash), position, (), traces)
    return traces
