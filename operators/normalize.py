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

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec

from operators.bounds import (
    MAX_BLOCK_NUMBER,
    MAX_GAS,
    MAX_NONCE,
    MAX_TX_INDEX,
    TimeBounds,
    chain_id_reason,
    safe_chain_id,
)
from operators.records import (
    Authorization,
    Block,
    DeadLetter,
    RawItem,
    Receipt,
    Trace,
    Tx,
)

STAGE = "normalize"

# Size limits, in bytes. A node's own limits are lower (geth's pool takes txs up to 128 KiB), so
# anything above these is corruption or abuse, not a transaction worth the memory.
MAX_CALLDATA_BYTES = 512 << 10  # decoded input of one tx or call: 512 KiB
# One tx or call object: 2 MiB, room for the largest calldata allowed, which hex doubles.
MAX_TX_PAYLOAD_BYTES = 2 << 20
MAX_BLOCK_PAYLOAD_BYTES = 64 << 20  # one block bundle with receipts and traces: 64 MiB
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

UINT256_MAX = (1 << 256) - 1
# Item kinds of L2 sequencer feeds (operators/l2): a tx the sequencer has ordered or preconfirmed.
SEQUENCER_STAGES = frozenset({"sequenced", "preconfirmed"})
TYPE_UNKNOWN = -1  # a call recovered from a trace: its envelope type is not known

TYPE_LEGACY = 0x0
TYPE_ACCESS_LIST = 0x1
TYPE_DYNAMIC_FEE = 0x2
TYPE_BLOB = 0x3
TYPE_SET_CODE = 0x4
TYPE_OP_DEPOSIT = 0x7E
ARBITRUM_TYPES = {
    0x64: "ArbitrumDepositTx",
    0x65: "ArbitrumUnsignedTx",
    0x66: "ArbitrumContractTx",
    0x68: "ArbitrumRetryTx",
    0x69: "ArbitrumSubmitRetryableTx",
    0x6A: "ArbitrumInternalTx",
    0x78: "ArbitrumLegacyTx",
}
SIGNED_TYPES = frozenset({0, 1, 2, 3, 4})
DYNAMIC_FEE_TYPES = frozenset({2, 3, 4})
KNOWN_TYPES = SIGNED_TYPES | {TYPE_OP_DEPOSIT} | ARBITRUM_TYPES.keys()


class Malformed(Exception):
    """An object that is not a valid JSON-RPC record; ``reason`` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- wire shapes (only the fields we read; msgspec skips the rest) -------------------------------
# gc=False: short-lived and acyclic (strings, lists of strings and of other wire shapes), so the
# cycle collector need not track them.


class _RpcAuthorization(msgspec.Struct, gc=False):
    chainId: str | None = None
    address: str | None = None
    nonce: str | None = None
    authority: str | None = None


class _RpcTx(msgspec.Struct, gc=False):
    hash: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    nonce: str | None = None
    value: str | None = None
    gas: str | None = None
    input: str | None = None
    type: str | None = None
    chainId: str | None = None
    gasPrice: str | None = None
    maxFeePerGas: str | None = None
    maxPriorityFeePerGas: str | None = None
    maxFeePerBlobGas: str | None = None
    blobVersionedHashes: list[str] | None = None
    authorizationList: list[_RpcAuthorization] | None = None
    sourceHash: str | None = None
    mint: str | None = None
    blockNumber: str | None = None
    blockHash: str | None = None
    transactionIndex: str | None = None
    # L2 feed items only: the place in the sequencer's order (operators/l2).
    position: list[int] | None = None


class _RpcLog(msgspec.Struct, gc=False):
    address: str | None = None
    topics: list[str] = []
    data: str = "0x"
    logIndex: str | None = None


class _RpcReceipt(msgspec.Struct, gc=False):
    transactionHash: str | None = None
    transactionIndex: str | None = None
    status: str | None = None
    gasUsed: str | None = None
    effectiveGasPrice: str | None = None
    to: str | None = None
    contractAddress: str | None = None
    logs: list[_RpcLog] | None = None


class _RpcTraceAction(msgspec.Struct, gc=False):
    callType: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    gas: str | None = None
    input: str | None = None
    value: str | None = None
    init: str | None = None
    address: str | None = None
    balance: str | None = None
    refundAddress: str | None = None
    author: str | None = None
    rewardType: str | None = None


class _RpcTraceResult(msgspec.Struct, gc=False):
    gasUsed: str | None = None
    output: str | None = None
    address: str | None = None
    code: str | None = None


class _RpcTrace(msgspec.Struct, gc=False):
    action: _RpcTraceAction | None = None
    result: _RpcTraceResult | None = None
    error: str | None = None
    subtraces: int = 0
    traceAddress: list[int] | None = None
    transactionHash: str | None = None
    transactionPosition: int | None = None
    type: str | None = None


class _RpcBlock(msgspec.Struct, gc=False):
    number: str | None = None
    hash: str | None = None
    parentHash: str | None = None
    timestamp: str | None = None
    miner: str | None = None
    baseFeePerGas: str | None = None
    extraData: str | None = None
    transactions: list[msgspec.Raw] = []


class _RpcBundle(msgspec.Struct, gc=False):
    block: _RpcBlock | None = None
    receipts: list[msgspec.Raw] | None = None
    traces: list[msgspec.Raw] | None = None


_tx_decoder = msgspec.json.Decoder(_RpcTx)
_receipt_decoder = msgspec.json.Decoder(_RpcReceipt)
_trace_decoder = msgspec.json.Decoder(_RpcTrace)
_bundle_decoder = msgspec.json.Decoder(_RpcBundle)
_str_decoder = msgspec.json.Decoder(str)


# --- field parsers -----------------------------------------------------------------------------


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _qty(value: str | None, field: str) -> int:
    """A hex quantity ("0x1a") as an int in [0, 2**256-1]."""
    # isalnum+isascii rejects what int() would forgive: whitespace, underscores, signs, non-ASCII
    # digits; non-hex letters still fail in int(). One branch on the happy path.
    if value is not None and value[:2] == "0x" and value.isalnum() and value.isascii():
        try:
            number = int(value, 16)
        except ValueError:
            number = -1
        if 0 <= number <= UINT256_MAX:
            return number
    raise Malformed(_qty_reason(value, field))


def _qty_reason(value: str | None, field: str) -> str:
    if value is None:
        return f"missing field '{field}'"
    if value.startswith("-"):
        return f"negative quantity in field '{field}': {_show(value)}"
    try:
        if value[:2] == "0x" and value.isalnum() and value.isascii() and int(value, 16) >= 0:
            return f"quantity out of range in field '{field}': {_show(value)}"
    except ValueError:
        pass
    return f"bad hex in field '{field}': {_show(value)}"


def _opt_qty(value: str | None, field: str) -> int | None:
    return None if value is None else _qty(value, field)


def _at_most(number: int, maximum: int, field: str) -> int:
    """``number`` when the protocol allows it in ``field`` (bounds.py), else Malformed."""
    if number > maximum:
        raise Malformed(f"quantity out of range in field '{field}': {number:#x} > {maximum:#x}")
    return number


def _opt_at_most(value: str | None, maximum: int, field: str) -> int | None:
    return None if value is None else _at_most(_qty(value, field), maximum, field)


def _req(value: str | None, field: str) -> str:
    if value is None:
        raise Malformed(f"missing field '{field}'")
    return value


def _fixed_hex(value: str | None, size: int, field: str, what: str) -> str:
    """Lowercase 0x-hex of exactly ``size`` bytes (an address or a hash)."""
    if value is None:
        raise Malformed(f"missing field '{field}'")
    if len(value) == 2 + 2 * size and value[:2] == "0x":
        try:
            binascii.a2b_hex(value[2:])  # strict: hex digits only, no whitespace
            return value.lower()
        except ValueError:
            pass
        raise Malformed(f"bad hex in field '{field}': {_show(value)}")
    raise Malformed(f"{what} not {size} bytes in field '{field}': {_show(value)}")


def _addr(value: str | None, field: str) -> str:
    # _fixed_hex's happy path inline (a Python call less per address); it says what is wrong
    if value is not None and len(value) == 42 and value[:2] == "0x":
        try:
            binascii.a2b_hex(value[2:])
            return value.lower()
        except ValueError:
            pass
    return _fixed_hex(value, 20, field, "address")


def _opt_addr(value: str | None, field: str) -> str | None:
    return None if value is None else _addr(value, field)


def _hash(value: str | None, field: str) -> str:
    if value is not None and len(value) == 66 and value[:2] == "0x":
        try:
            binascii.a2b_hex(value[2:])
            return value.lower()
        except ValueError:
            pass
    return _fixed_hex(value, 32, field, "hash")


def _data(value: str | None, field: str, limit: int = MAX_CALLDATA_BYTES) -> str:
    """Lowercase 0x-hex bytes of even length, at most ``limit`` bytes."""
    if value == "0x":  # no calldata: most txs
        return value
    if value is None:
        raise Malformed(f"missing field '{field}'")
    if not value.startswith("0x"):
        raise Malformed(f"bad hex in field '{field}': {_show(value)}")
    size, odd = divmod(len(value) - 2, 2)
    if odd:
        raise Malformed(f"odd-length hex in field '{field}': {_show(value)}")
    if size > limit:
        raise Malformed(f"data too large in field '{field}': {size} bytes > {limit}")
    try:
        binascii.a2b_hex(value[2:])  # strict: hex digits only, no whitespace
    except ValueError:
        raise Malformed(f"bad hex in field '{field}': {_show(value)}") from None
    # RPC hex is lowercase; lowercasing only when needed skips a copy of the calldata. Valid hex
    # has the cased 'x', so islower() is False exactly when an A-F is present (one scan, not six).
    if not value.islower():
        return value.lower()
    return value


_TYPE_BY_TAG = {f"0x{t:x}": t for t in KNOWN_TYPES}


def _tx_type(tag: str | None) -> int:
    if tag is None:
        return TYPE_LEGACY  # pre-Berlin nodes omit the type of legacy txs
    tx_type = _TYPE_BY_TAG.get(tag)
    if tx_type is None:
        tx_type = _qty(tag, "type")
        if tx_type not in KNOWN_TYPES:
            raise Malformed(f"unknown tx type: {_show(tag)}")
    return tx_type


# --- transactions ------------------------------------------------------------------------------


def _chain_id(tag: str | None, tx_type: int, expected: int) -> int:
    if tag is None or tag == hex(expected):  # the usual case, without parsing
        return expected
    chain_id = _qty(tag, "chainId")
    if chain_id == 0 and tx_type == TYPE_LEGACY:
        return expected  # some nodes write 0 for a pre-EIP-155 signature, which has no chain id
    if chain_id != expected:
        raise Malformed(f"chain id mismatch: tx has {chain_id}, source says {expected}")
    return chain_id


def _authorizations(items: list[_RpcAuthorization]) -> tuple[Authorization, ...]:
    out = []
    for i, item in enumerate(items):
        field = f"authorizationList[{i}]"
        out.append(
            Authorization(
                chain_id=_qty(item.chainId, field + ".chainId"),
                address=_addr(item.address, field + ".address"),
                nonce=_qty(item.nonce, field + ".nonce"),
                authority=_opt_addr(item.authority, field + ".authority"),
            )
        )
    return tuple(out)


# The two hot paths below test optional fields for None inline rather than through _opt_qty /
# _opt_addr: most are None, and a Python call per field is a good part of the cost of a tx.


def _tx_from_rpc(
    raw: _RpcTx, chain_id: int, source: str, seen_ms: int, calldata_limit: int = MAX_CALLDATA_BYTES
) -> Tx:
    tx_type = _tx_type(raw.type)
    signed = tx_type in SIGNED_TYPES
    if raw.nonce is None:
        if signed:
            raise Malformed("missing field 'nonce'")
        nonce = None
    else:
        nonce = _at_most(_qty(raw.nonce, "nonce"), MAX_NONCE, "nonce")

    gas_price = None if raw.gasPrice is None else _qty(raw.gasPrice, "gasPrice")
    max_fee = None if raw.maxFeePerGas is None else _qty(raw.maxFeePerGas, "maxFeePerGas")
    max_tip = (
        None
        if raw.maxPriorityFeePerGas is None
        else _qty(raw.maxPriorityFeePerGas, "maxPriorityFeePerGas")
    )
    if tx_type in DYNAMIC_FEE_TYPES:
        if max_fee is None or max_tip is None:
            raise Malformed(
                f"fee fields inconsistent with type {tx_type}: "
                "needs maxFeePerGas and maxPriorityFeePerGas"
            )
        if max_tip > max_fee:
            raise Malformed(
                f"fee fields inconsistent: maxPriorityFeePerGas {max_tip} > maxFeePerGas {max_fee}"
            )
    elif signed:
        if gas_price is None:
            raise Malformed(f"fee fields inconsistent with type {tx_type}: needs gasPrice")
        if max_fee is not None or max_tip is not None:
            raise Malformed(f"fee fields inconsistent with type {tx_type}: has maxFeePerGas")

    to = None if raw.to is None else _addr(raw.to, "to")
    max_fee_per_blob_gas = None
    blob_hashes: tuple[str, ...] = ()
    if tx_type == TYPE_BLOB:
        if raw.maxFeePerBlobGas is None or not raw.blobVersionedHashes:
            raise Malformed(
                "fee fields inconsistent with type 3: "
                "needs maxFeePerBlobGas and blobVersionedHashes"
            )
        max_fee_per_blob_gas = _qty(raw.maxFeePerBlobGas, "maxFeePerBlobGas")
        blob_hashes = tuple(_hash(h, "blobVersionedHashes") for h in raw.blobVersionedHashes)
    elif raw.blobVersionedHashes or raw.maxFeePerBlobGas is not None:
        raise Malformed(f"fields inconsistent with type {tx_type}: blob fields on a non-blob tx")
    authorizations: tuple[Authorization, ...] = ()
    if tx_type == TYPE_SET_CODE:
        if not raw.authorizationList:
            raise Malformed("fields inconsistent with type 4: needs a non-empty authorizationList")
        authorizations = _authorizations(raw.authorizationList)
    elif raw.authorizationList:
        raise Malformed(
            f"fields inconsistent with type {tx_type}: authorizationList on a non-7702 tx"
        )
    if to is None and tx_type in (TYPE_BLOB, TYPE_SET_CODE):
        raise Malformed(f"fields inconsistent with type {tx_type}: 'to' is required")

    source_hash = None
    if tx_type == TYPE_OP_DEPOSIT:
        source_hash = _hash(raw.sourceHash, "sourceHash")

    data = _data(raw.input, "input", calldata_limit)
    return Tx(
        chain_id=_chain_id(raw.chainId, tx_type, chain_id),
        hash=_hash(raw.hash, "hash"),
        sender=_addr(raw.sender, "from"),
        to=to,
        nonce=nonce,
        value=_qty(raw.value, "value"),
        gas=_at_most(_qty(raw.gas, "gas"), MAX_GAS, "gas"),
        tx_type=tx_type,
        input=data,
        selector=data[:10] if len(data) >= 10 else None,
        first_seen_ms=seen_ms,
        source=source,
        gas_price=gas_price,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=max_tip,
        max_fee_per_blob_gas=max_fee_per_blob_gas,
        blob_versioned_hashes=blob_hashes,
        authorizations=authorizations,
        block_number=_opt_at_most(raw.blockNumber, MAX_BLOCK_NUMBER, "blockNumber"),
        block_hash=None if raw.blockHash is None else _hash(raw.blockHash, "blockHash"),
        tx_index=_opt_at_most(raw.transactionIndex, MAX_TX_INDEX, "transactionIndex"),
        mint=None if raw.mint is None else _qty(raw.mint, "mint"),
        source_hash=source_hash,
    )


def _call_from_rpc(
    raw: _RpcTx, chain_id: int, source: str, seen_ms: int, calldata_limit: int = MAX_CALLDATA_BYTES
) -> Tx:
    data = _data(raw.input, "input", calldata_limit)
    return Tx(
        chain_id=chain_id,
        hash=_hash(raw.hash, "hash"),
        sender=_addr(raw.sender, "from"),
        to=None if raw.to is None else _addr(raw.to, "to"),
        nonce=None,
        value=_qty(raw.value, "value"),
        gas=_at_most(_qty(raw.gas, "gas"), MAX_GAS, "gas"),
        tx_type=TYPE_UNKNOWN,
        input=data,
        selector=data[:10] if len(data) >= 10 else None,
        first_seen_ms=seen_ms,
        source=source,
        gas_price=None if raw.gasPrice is None else _qty(raw.gasPrice, "gasPrice"),
        block_number=_opt_at_most(raw.blockNumber, MAX_BLOCK_NUMBER, "blockNumber"),
        tx_index=_opt_at_most(raw.transactionIndex, MAX_TX_INDEX, "transactionIndex"),
    )


def normalize_tx(obj: dict[str, Any], chain_id: int, source: str, seen_ms: int) -> Tx:
    """A ``Tx`` from a decoded JSON-RPC transaction object; raises ``Malformed``."""
    try:
        raw = msgspec.convert(obj, _RpcTx)
    except msgspec.ValidationError as exc:
        raise Malformed(_shape_reason(exc)) from None
    return _tx_from_rpc(raw, chain_id, source, seen_ms)


# --- receipts and traces -----------------------------------------------------------------------


def _receipt_from_rpc(raw: _RpcReceipt) -> Receipt:
    logs: tuple[dict[str, Any], ...] = ()
    if raw.logs:
        logs = tuple(
            {
                "address": _addr(log.address, "logs.address"),
                "topics": tuple(_hash(t, "logs.topics") for t in log.topics),
                "data": _data(log.data, "logs.data", MAX_BLOCK_PAYLOAD_BYTES),
                "log_index": _opt_qty(log.logIndex, "logs.logIndex"),
            }
            for log in raw.logs
        )
    return Receipt(
        tx_hash=_hash(raw.transactionHash, "transactionHash"),
        tx_index=_qty(raw.transactionIndex, "transactionIndex"),
        status=_opt_qty(raw.status, "status"),
        gas_used=_qty(raw.gasUsed, "gasUsed"),
        effective_gas_price=_opt_qty(raw.effectiveGasPrice, "effectiveGasPrice"),
        to=_opt_addr(raw.to, "to"),
        contract_address=_opt_addr(raw.contractAddress, "contractAddress"),
        logs=logs,
    )


def _trace_from_rpc(raw: _RpcTrace) -> Trace:
    action = raw.action
    if action is None:
        raise Malformed("missing field 'action'")
    if raw.traceAddress is None:
        raise Malformed("missing field 'traceAddress'")
    kind = _req(raw.type, "type")
    result = raw.result
    tx_hash = None if raw.transactionHash is None else _hash(raw.transactionHash, "transactionHash")
    gas_used = None if result is None else _opt_qty(result.gasUsed, "result.gasUsed")
    call_type: str | None = None
    if kind == "call":
        call_type = action.callType
        sender = _opt_addr(action.sender, "action.from")
        to = _opt_addr(action.to, "action.to")
        if action.value is None and call_type in ("staticcall", "delegatecall"):
            value = 0  # some tracers omit the value of frames that cannot move ether
        else:
            value = _qty(action.value, "action.value")
        gas = _qty(action.gas, "action.gas")
        data = _data(action.input, "action.input", MAX_BLOCK_PAYLOAD_BYTES)
        output = None if result is None or result.output is None else result.output.lower()
    elif kind == "create":
        sender = _opt_addr(action.sender, "action.from")
        to = None if result is None else _opt_addr(result.address, "result.address")
        value = _qty(action.value, "action.value")
        gas = _qty(action.gas, "action.gas")
        data = _data(action.init, "action.init", MAX_BLOCK_PAYLOAD_BYTES)
        output = None if result is None or result.code is None else result.code.lower()
    elif kind in ("suicide", "selfdestruct"):
        sender = _opt_addr(action.address, "action.address")
        to = _opt_addr(action.refundAddress, "action.refundAddress")
        value = _qty(action.balance, "action.balance")
        gas, data, output = 0, "0x", None
    elif kind == "reward":
        # The reward kind ("block", "uncle") rides in call_type; the author receives the value.
        call_type = action.rewardType
        sender = None
        to = _opt_addr(action.author, "action.author")
        value = _qty(action.value, "action.value")
        gas, data, output = 0, "0x", None
    else:
        raise Malformed(f"unknown trace type: {_show(kind)}")
    return Trace(
        tx_hash=tx_hash,
        tx_position=raw.transactionPosition,
        trace_address=tuple(raw.traceAddress),
        type=kind,
        call_type=call_type,
        sender=sender,
        to=to,
        value=value,
        gas=gas,
        input=data,
        output=output,
        gas_used=gas_used,
        error=raw.error,
        subtraces=raw.subtraces,
    )


def parse_trace(obj: dict[str, Any]) -> Trace:
    """A ``Trace`` from one Parity ``trace_block`` entry (RPC camelCase); raises ``Malformed``.

    Suicide traces: ``sender`` is the destroyed contract, ``to`` the refund address, ``value`` its
    balance. Reward traces: ``to`` is the author, ``call_type`` the reward type.
    """
    try:
        raw = msgspec.convert(obj, _RpcTrace)
    except msgspec.ValidationError as exc:
        raise Malformed(_shape_reason(exc)) from None
    return _trace_from_rpc(raw)


# --- the step ----------------------------------------------------------------------------------


# msgspec raises UnicodeDecodeError (not a DecodeError) for invalid UTF-8 inside a JSON string.
_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)


def _shape_reason(exc: msgspec.ValidationError | msgspec.DecodeError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: byte {exc.start} of a JSON string: {exc.reason}"
    message = str(exc)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return f"not JSON: {message}"
    if message.startswith("Expected `object`") and "- at `$" not in message:
        return f"not a JSON object: {message}"
    return f"wrong JSON type: {message}"


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


def _too_large(item: RawItem, limit: int, keep: int) -> DeadLetter | None:
    size = len(item.payload)
    if size > limit:
        return _dead(item, f"payload too large: {size} bytes > {limit}", keep=keep)
    return None


def _normalize_tx_item(item: RawItem, limits: SizeLimits) -> list[Tx | Block | DeadLetter]:
    keep = limits.dead_letter_payload_bytes
    dead = _too_large(item, limits.tx_payload_bytes, keep)
    if dead is not None:
        return [dead]
    try:
        raw = _tx_decoder.decode(item.payload)
        if item.kind == "tx":
            return [
                _tx_from_rpc(raw, item.chain_id, item.source, item.seen_ms, limits.calldata_bytes)
            ]
        if item.kind in SEQUENCER_STAGES:
            tx = _tx_from_rpc(raw, item.chain_id, item.source, item.seen_ms, limits.calldata_bytes)
            position = tuple(raw.position or ())
            return [msgspec.structs.replace(tx, stage=item.kind, position=position)]
        return [
            _call_from_rpc(raw, item.chain_id, item.source, item.seen_ms, limits.calldata_bytes)
        ]
    except Malformed as exc:
        return [_dead(item, exc.reason, keep=keep)]
    except _DECODE_ERRORS as exc:
        return [_dead(item, _shape_reason(exc), keep=keep)]


def _block_tx(raw_tx: bytes, index: int, block: Block, item: RawItem, calldata_limit: int) -> Tx:
    """A tx of a block body, placed in its block (the body's position when it has no index)."""
    tx = _tx_from_rpc(
        _tx_decoder.decode(raw_tx), item.chain_id, item.source, item.seen_ms, calldata_limit
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
    return _hash(_str_decoder.decode(raw), "transactions")


def _decode_receipt(raw: bytes) -> Receipt:
    return _receipt_from_rpc(_receipt_decoder.decode(raw))


def _decode_trace(raw: bytes) -> Trace:
    return _trace_from_rpc(_trace_decoder.decode(raw))


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


def _block_header(item: RawItem) -> tuple[Block, _RpcBundle]:
    """The block without its parts, and the decoded bundle; raises on a malformed header."""
    bundle = _bundle_decoder.decode(item.payload)
    block = bundle.block
    if block is None:
        raise Malformed("missing field 'block'")
    if block.number is None:
        raise Malformed("block without number")
    header = Block(
        chain_id=item.chain_id,
        number=_at_most(_qty(block.number, "number"), MAX_BLOCK_NUMBER, "number"),
        hash=None if block.hash is None else _hash(block.hash, "hash"),
        timestamp=_qty(block.timestamp, "timestamp"),
        miner=_opt_addr(block.miner, "miner"),
        base_fee_per_gas=_opt_qty(block.baseFeePerGas, "baseFeePerGas"),
        first_seen_ms=item.seen_ms,
        source=item.source,
        parent_hash=None if block.parentHash is None else _hash(block.parentHash, "parentHash"),
        extra_data=_extra_data(block.extraData),
    )
    return header, bundle


def _normalize_block_item(item: RawItem, limits: SizeLimits) -> list[Tx | Block | DeadLetter]:
    keep = limits.dead_letter_payload_bytes
    dead = _too_large(item, limits.block_payload_bytes, keep)
    if dead is not None:
        return [dead]
    try:
        header, bundle = _block_header(item)
    except Malformed as exc:
        return [_dead(item, exc.reason, keep=keep)]
    except _DECODE_ERRORS as exc:
        return [_dead(item, _shape_reason(exc), keep=keep)]
    assert bundle.block is not None  # checked by _block_header

    dead_letters: list[Tx | Block | DeadLetter] = []

    def part(raw: msgspec.Raw, what: str, parse: Callable[[Any], Any]) -> Any:
        """One tx, receipt or trace; a bad one becomes a dead letter of its own (None here)."""
        try:
            return parse(raw)
        except Malformed as exc:
            reason = exc.reason
        except _DECODE_ERRORS as exc:
            reason = _shape_reason(exc)
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
            return f"timestamp out of range: seen_ms {_show(item.seen_ms)} is not unix ms"
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
        return [_dead(item, f"unknown item kind: {_show(item.kind)}", keep=keep)]
    except Exception as exc:  # a bug here must not crash the flow; the payload is kept
        reason = f"normalizer error: {type(exc).__name__}: {exc}"
        return [_dead(item, reason, keep=keep, at_ms=now_ms or None)]
