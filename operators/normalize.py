"""Turn raw JSON-RPC objects into typed records: ``Tx``, ``Block`` (with receipts and traces).

``normalize_item`` is the flow's step: it never raises; what it cannot read becomes a
``DeadLetter`` with a precise reason (the text before the first ':' is a stable class). Decoding
goes through msgspec structs of string fields (much cheaper than ``json.loads`` and dict lookups),
and hex quantities through ``int(x, 16)`` after a cheap shape check.

Item kinds:

- ``"tx"``: one JSON-RPC transaction object (``eth_getTransactionByHash``, full
  ``newPendingTransactions`` notifications, entries of a block body).
- ``"call"``: a top-level call recovered from a trace, without nonce, type or signature. It becomes
  a ``Tx`` with ``nonce=None`` and ``tx_type=TYPE_UNKNOWN`` (-1: unknown, recovered from a trace).
- ``"sequenced"`` / ``"preconfirmed"``: a tx object from an L2 sequencer feed (operators/l2),
  with its ``position`` in the sequencer's order; the ``Tx`` carries that ``stage`` and position.
- ``"block"``: a bundle ``{"block": {...}, "receipts": [...], "traces": [...]}`` where the block's
  ``transactions`` are full objects, hashes or empty; receipts and Parity ``trace_block`` entries
  (RPC camelCase) are optional. A bad tx, receipt or trace inside a good block becomes an extra
  ``DeadLetter`` next to the ``Block``, which keeps everything else.

Transaction types: 0 legacy (with or without ``chainId``: pre-EIP-155 signatures have none), 1
access list, 2 EIP-1559, 3 blob, 4 EIP-7702 set-code, 0x7e OP-stack deposit, Arbitrum's 0x64-0x6a
system types and 0x78 (pre-Nitro legacy). Signed types must carry their nonce and fee fields;
deposit and Arbitrum system types may omit what they do not have (nonce, gas price, ``to``).

``gas_price`` keeps the node's ``gasPrice`` as reported: for EIP-1559 types that is the effective
price once mined and usually the fee cap while pending; ``fee_cap`` / ``tip_cap`` on ``Tx`` read
the 1559 fields first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import msgspec

from operators.bounds import (
    MAX_BLOCK_NUMBER,
    TimeBounds,
    chain_id_reason,
    safe_chain_id,
)
from operators.records import (
    Block,
    DeadLetter,
    RawItem,
    Receipt,
    Trace,
    Tx,
)
from operators.rpc_json import (
    DECODE_ERRORS,
    MAX_BLOCK_PAYLOAD_BYTES,
    MAX_CALLDATA_BYTES,
    TYPE_UNKNOWN,
    UINT256_MAX,
    Malformed,
    RpcBundle,
    at_most,
    bundle_decoder,
    hash32,
    opt_addr,
    opt_qty,
    qty,
    receipt_decoder,
    shape_reason,
    show,
    str_decoder,
    trace_decoder,
    tx_decoder,
)
from operators.rpc_records import (
    call_from_rpc,
    normalize_tx,
    parse_trace,
    receipt_from_rpc,
    trace_from_rpc,
    tx_from_rpc,
)

# What other modules read from the normalizer (some of it re-exported from the decoder modules).
__all__ = [
    "MAX_BLOCK_PAYLOAD_BYTES",
    "MAX_CALLDATA_BYTES",
    "MAX_DEAD_LETTER_PAYLOAD_BYTES",
    "MAX_TX_PAYLOAD_BYTES",
    "STAGE",
    "TYPE_UNKNOWN",
    "UINT256_MAX",
    "Malformed",
    "SizeLimits",
    "normalize_item",
    "normalize_tx",
    "parse_trace",
]

STAGE = "normalize"

# Size limits, in bytes (those of one tx's input and of one block bundle are operators.rpc_json's).
# One tx or call object: 2 MiB, room for the largest calldata allowed, which hex doubles.
MAX_TX_PAYLOAD_BYTES = 2 << 20
# A dead letter keeps this much of the payload it could not read (a 64 MiB garbage block must not
# become a 64 MiB record in every sink, nor a Kafka message over the topic's limit).
MAX_DEAD_LETTER_PAYLOAD_BYTES = 1 << 20


@dataclass(frozen=True)
class SizeLimits:
    """The size limits above, as configured (``flows.config.LimitsConfig``; operators/LIMITS.md)."""

    tx_payload_bytes: int = MAX_TX_PAYLOAD_BYTES
    block_payload_bytes: int = MAX_BLOCK_PAYLOAD_BYTES
    calldata_bytes: int = MAX_CALLDATA_BYTES
    dead_letter_payload_bytes: int = MAX_DEAD_LETTER_PAYLOAD_BYTES


DEFAULT_LIMITS = SizeLimits()

# Item kinds of L2 sequencer feeds (operators/l2): a tx the sequencer has ordered or preconfirmed.
SEQUENCER_STAGES = frozenset({"sequenced", "preconfirmed"})

T = TypeVar("T")

# --- the step -----------------------------------------------------------------------------------


def _dead(
    item: RawItem,
    reason: str,
    payload: bytes | None = None,
    keep: int = MAX_DEAD_LETTER_PAYLOAD_BYTES,
    at_ms: int | None = None,
) -> DeadLetter:
    data = item.payload if payload is None else payload
    if len(data) > keep:
        reason = f"{reason} (payload cut to {keep} of {len(data)} bytes)"
        data = data[:keep]
    return DeadLetter(
        stage=STAGE,
        reason=reason,
        payload=data.decode("utf-8", errors="replace"),
        source=item.source,
        chain_id=safe_chain_id(item.chain_id),
        at_ms=item.seen_ms if at_ms is None else at_ms,
    )


def _decoded(
    item: RawItem, limit: int, keep: int, decode: Callable[..., T], *args: Any
) -> T | DeadLetter:
    """``decode(item, *args)``, or the dead letter that says why not: too large, malformed, or
    not the shape of its kind."""
    size = len(item.payload)
    if size > limit:
        return _dead(item, f"payload too large: {size} bytes > {limit}", keep=keep)
    try:
        return decode(item, *args)
    except Malformed as exc:
        return _dead(item, exc.reason, keep=keep)
    except DECODE_ERRORS as exc:
        return _dead(item, shape_reason(exc), keep=keep)


def _tx_record(item: RawItem, calldata_limit: int) -> Tx:
    raw = tx_decoder.decode(item.payload)
    if item.kind == "tx":
        return tx_from_rpc(raw, item.chain_id, item.source, item.seen_ms, calldata_limit)
    if item.kind in SEQUENCER_STAGES:
        tx = tx_from_rpc(raw, item.chain_id, item.source, item.seen_ms, calldata_limit)
        position = tuple(raw.position or ())
        return msgspec.structs.replace(tx, stage=item.kind, position=position)
    return call_from_rpc(raw, item.chain_id, item.source, item.seen_ms, calldata_limit)


def _normalize_tx_item(item: RawItem, limits: SizeLimits) -> list[Tx | Block | DeadLetter]:
    keep = limits.dead_letter_payload_bytes
    return [_decoded(item, limits.tx_payload_bytes, keep, _tx_record, limits.calldata_bytes)]


def _block_tx(raw_tx: bytes, index: int, block: Block, item: RawItem, calldata_limit: int) -> Tx:
    """A tx of a block body, placed in its block (the body's position when it has no index)."""
    tx = tx_from_rpc(
        tx_decoder.decode(raw_tx), item.chain_id, item.source, item.seen_ms, calldata_limit
    )
    if tx.block_hash is not None and block.hash is not None and tx.block_hash != block.hash:
        raise Malformed(f"block mismatch: tx says block {tx.block_hash}, block is {block.hash}")
    if tx.block_number is not None and tx.block_number != block.number:
        raise Malformed(f"block mismatch: tx says block {tx.block_number}, block is {block.number}")
    return msgspec.structs.replace(
        tx,
        block_number=block.number,
        block_hash=block.hash,
        tx_index=index if tx.tx_index is None else tx.tx_index,
    )


def _decode_hash(raw: bytes) -> str:
    return hash32(str_decoder.decode(raw), "transactions")


def _decode_receipt(raw: bytes) -> Receipt:
    return receipt_from_rpc(receipt_decoder.decode(raw))


def _decode_trace(raw: bytes) -> Trace:
    return trace_from_rpc(trace_decoder.decode(raw))


def _extra_data(text: str | None) -> str | None:
    """extraData as lowercase hex, or None (it only names a block's builder: never worth a dead
    letter, so an odd value is dropped rather than refused)."""
    if text is None or len(text) > 2 + 2 * 1024 or not text.startswith("0x"):
        return None
    try:
        bytes.fromhex(text[2:])
    except ValueError:
        return None
    return text.lower()


def _block_header(item: RawItem) -> tuple[Block, RpcBundle]:
    """The block without its parts, and the decoded bundle; raises on a malformed header."""
    bundle = bundle_decoder.decode(item.payload)
    block = bundle.block
    if block is None:
        raise Malformed("missing field 'block'")
    if block.number is None:
        raise Malformed("block without number")
    header = Block(
        chain_id=item.chain_id,
        number=at_most(qty(block.number, "number"), MAX_BLOCK_NUMBER, "number"),
        hash=None if block.hash is None else hash32(block.hash, "hash"),
        timestamp=qty(block.timestamp, "timestamp"),
        miner=opt_addr(block.miner, "miner"),
        base_fee_per_gas=opt_qty(block.baseFeePerGas, "baseFeePerGas"),
        first_seen_ms=item.seen_ms,
        source=item.source,
        parent_hash=None if block.parentHash is None else hash32(block.parentHash, "parentHash"),
        extra_data=_extra_data(block.extraData),
    )
    return header, bundle


def _normalize_block_item(item: RawItem, limits: SizeLimits) -> list[Tx | Block | DeadLetter]:
    keep = limits.dead_letter_payload_bytes
    decoded = _decoded(item, limits.block_payload_bytes, keep, _block_header)
    if isinstance(decoded, DeadLetter):
        return [decoded]
    header, bundle = decoded
    assert bundle.block is not None  # checked by _block_header

    dead_letters: list[Tx | Block | DeadLetter] = []

    def part(raw: msgspec.Raw, what: str, parse: Callable[[Any], Any]) -> Any:
        """One tx, receipt or trace; a bad one becomes a dead letter of its own (None here)."""
        try:
            return parse(raw)
        except Malformed as exc:
            reason = exc.reason
        except DECODE_ERRORS as exc:
            reason = shape_reason(exc)
        dead_letters.append(_dead(item, f"{what}: {reason}", bytes(memoryview(raw)), keep))
        return None

    txs: list[Tx] = []
    tx_hashes: list[str] = []
    for index, raw_tx in enumerate(bundle.block.transactions):
        if memoryview(raw_tx)[:1] == b'"':  # a body of hashes only
            tx_hash = part(raw_tx, "bad tx hash in block", _decode_hash)
            if tx_hash is not None:
                tx_hashes.append(tx_hash)
            continue
        tx = part(
            raw_tx,
            "bad tx in block",
            partial(
                _block_tx,
                index=index,
                block=header,
                item=item,
                calldata_limit=limits.calldata_bytes,
            ),
        )
        if tx is not None:
            txs.append(tx)
            tx_hashes.append(tx.hash)
    receipts = [part(raw, "bad receipt in block", _decode_receipt) for raw in bundle.receipts or ()]
    traces = [part(raw, "bad trace in block", _decode_trace) for raw in bundle.traces or ()]
    block = msgspec.structs.replace(
        header,
        txs=tuple(txs),
        receipts=tuple(r for r in receipts if r is not None),
        traces=tuple(t for t in traces if t is not None),
        tx_hashes=tuple(tx_hashes),
    )
    return [block, *dead_letters]


def _edge_reason(item: RawItem, bounds: TimeBounds, now_ms: int) -> str | None:
    """Why the source's own fields of ``item`` are out of range (None when they are not)."""
    reason = chain_id_reason(item.chain_id)
    if reason is None:
        if type(item.seen_ms) is not int:
            return f"timestamp out of range: seen_ms {show(item.seen_ms)} is not unix ms"
        reason = bounds.reason("first seen (ms)", item.chain_id, item.seen_ms, now_ms)
    return reason


def _block_time_reason(block: Block, bounds: TimeBounds, now_ms: int) -> str | None:
    if block.number == 0:
        return None  # genesis blocks carry timestamp 0 (Ethereum's does)
    return bounds.reason(
        f"block {block.number} timestamp (ms)", block.chain_id, block.timestamp * 1000, now_ms
    )


def normalize_item(
    item: RawItem,
    limits: SizeLimits = DEFAULT_LIMITS,
    bounds: TimeBounds | None = None,
    now_ms: int = 0,
) -> list[Tx | Block | DeadLetter]:
    """The records in one raw item: ``[Tx]``, ``[Block, DeadLetter...]`` or ``[DeadLetter]``.

    With ``bounds`` (the flow's step), the item's chain id, first-seen time and block timestamp
    must be in range at ``now_ms`` (operators/bounds.py); out of range, the whole item is one
    dead letter, stamped ``now_ms``, so no bad time reaches a window or a sink."""
    keep = limits.dead_letter_payload_bytes
    try:
        if bounds is not None:
            reason = _edge_reason(item, bounds, now_ms)
            if reason is not None:
                return [_dead(item, reason, keep=keep, at_ms=now_ms)]
        if item.kind == "tx" or item.kind == "call" or item.kind in SEQUENCER_STAGES:
            return _normalize_tx_item(item, limits)
        if item.kind == "block":
            records = _normalize_block_item(item, limits)
            block = records[0]
            if bounds is not None and isinstance(block, Block):
                reason = _block_time_reason(block, bounds, now_ms)
                if reason is not None:
                    return [_dead(item, reason, keep=keep, at_ms=now_ms)]
            return records
        return [_dead(item, f"unknown item kind: {show(item.kind)}", keep=keep)]
    except Exception as exc:  # a bug here must not crash the flow; the payload is kept
        reason = f"normalizer error: {type(exc).__name__}: {exc}"
        return [_dead(item, reason, keep=keep, at_ms=now_ms or None)]
