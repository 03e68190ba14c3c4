"""JSON-RPC objects to records: transactions and trace calls to ``Tx``, receipts to ``Receipt``,
Parity traces to ``Trace``; every field checked (``operators.rpc_json``), ``Malformed`` when not.
"""

from __future__ import annotations

from typing import Any

import msgspec

from operators.bounds import MAX_BLOCK_NUMBER, MAX_GAS, MAX_NONCE, MAX_TX_INDEX
from operators.records import Authorization, Receipt, Trace, Tx
from operators.rpc_json import (
    DYNAMIC_FEE_TYPES,
    MAX_BLOCK_PAYLOAD_BYTES,
    MAX_CALLDATA_BYTES,
    SIGNED_TYPES,
    TYPE_BLOB,
    TYPE_LEGACY,
    TYPE_OP_DEPOSIT,
    TYPE_SET_CODE,
    TYPE_UNKNOWN,
    Malformed,
    RpcAuthorization,
    RpcReceipt,
    RpcTrace,
    RpcTx,
    addr,
    at_most,
    hash32,
    hex_data,
    opt_addr,
    opt_at_most,
    opt_qty,
    qty,
    required,
    shape_reason,
    show,
    tx_type_of,
)

# --- transactions ------------------------------------------------------------------------------


def _chain_id(tag: str | None, tx_type: int, expected: int) -> int:
    if tag is None or tag == hex(expected):  # the usual case, without parsing
        return expected
    chain_id = qty(tag, "chainId")
    if chain_id == 0 and tx_type == TYPE_LEGACY:
        return expected  # some nodes write 0 for a pre-EIP-155 signature, which has no chain id
    if chain_id != expected:
        raise Malformed(f"chain id mismatch: tx has {chain_id}, source says {expected}")
    return chain_id


def _authorizations(items: list[RpcAuthorization]) -> tuple[Authorization, ...]:
    out = []
    for i, item in enumerate(items):
        field = f"authorizationList[{i}]"
        out.append(
            Authorization(
                chain_id=qty(item.chainId, field + ".chainId"),
                address=addr(item.address, field + ".address"),
                nonce=qty(item.nonce, field + ".nonce"),
                authority=opt_addr(item.authority, field + ".authority"),
            )
        )
    return tuple(out)


# The two hot paths below test optional fields for None inline rather than through opt_qty /
# opt_addr: most are None, and a Python call per field is a good part of the cost of a tx.


def tx_from_rpc(
    raw: RpcTx, chain_id: int, source: str, seen_ms: int, calldata_limit: int = MAX_CALLDATA_BYTES
) -> Tx:
    tx_type = tx_type_of(raw.type)
    signed = tx_type in SIGNED_TYPES
    if raw.nonce is None:
        if signed:
            raise Malformed("missing field 'nonce'")
        nonce = None
    else:
        nonce = at_most(qty(raw.nonce, "nonce"), MAX_NONCE, "nonce")

    gas_price = None if raw.gasPrice is None else qty(raw.gasPrice, "gasPrice")
    max_fee = None if raw.maxFeePerGas is None else qty(raw.maxFeePerGas, "maxFeePerGas")
    max_tip = (
        None
        if raw.maxPriorityFeePerGas is None
        else qty(raw.maxPriorityFeePerGas, "maxPriorityFeePerGas")
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

    to = None if raw.to is None else addr(raw.to, "to")
    max_fee_per_blob_gas = None
    blob_hashes: tuple[str, ...] = ()
    if tx_type == TYPE_BLOB:
        if raw.maxFeePerBlobGas is None or not raw.blobVersionedHashes:
            raise Malformed(
                "fee fields inconsistent with type 3: "
                "needs maxFeePerBlobGas and blobVersionedHashes"
            )
        max_fee_per_blob_gas = qty(raw.maxFeePerBlobGas, "maxFeePerBlobGas")
        blob_hashes = tuple(hash32(h, "blobVersionedHashes") for h in raw.blobVersionedHashes)
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
        source_hash = hash32(raw.sourceHash, "sourceHash")

    data = hex_data(raw.input, "input", calldata_limit)
    # Positional, in Tx's field order (keywords cost more than the rest of the record); the
    # fields are checked in this order, which decides the reason when several are bad.
    return Tx(
        _chain_id(raw.chainId, tx_type, chain_id),  # chain_id
        hash32(raw.hash, "hash"),  # hash
        addr(raw.sender, "from"),  # sender
        to,
        nonce,
        qty(raw.value, "value"),  # value
        at_most(qty(raw.gas, "gas"), MAX_GAS, "gas"),  # gas
        tx_type,
        data,  # input
        data[:10] if len(data) >= 10 else None,  # selector
        seen_ms,  # first_seen_ms
        source,
        gas_price,
        max_fee,  # max_fee_per_gas
        max_tip,  # max_priority_fee_per_gas
        max_fee_per_blob_gas,
        blob_hashes,  # blob_versioned_hashes
        authorizations,
        opt_at_most(raw.blockNumber, MAX_BLOCK_NUMBER, "blockNumber"),  # block_number
        None if raw.blockHash is None else hash32(raw.blockHash, "blockHash"),  # block_hash
        opt_at_most(raw.transactionIndex, MAX_TX_INDEX, "transactionIndex"),  # tx_index
        None if raw.mint is None else qty(raw.mint, "mint"),  # mint
        source_hash,
    )


def call_from_rpc(
    raw: RpcTx, chain_id: int, source: str, seen_ms: int, calldata_limit: int = MAX_CALLDATA_BYTES
) -> Tx:
    data = hex_data(raw.input, "input", calldata_limit)
    return Tx(
        chain_id=chain_id,
        hash=hash32(raw.hash, "hash"),
        sender=addr(raw.sender, "from"),
        to=None if raw.to is None else addr(raw.to, "to"),
        nonce=None,
        value=qty(raw.value, "value"),
        gas=at_most(qty(raw.gas, "gas"), MAX_GAS, "gas"),
        tx_type=TYPE_UNKNOWN,
        input=data,
        selector=data[:10] if len(data) >= 10 else None,
        first_seen_ms=seen_ms,
        source=source,
        gas_price=None if raw.gasPrice is None else qty(raw.gasPrice, "gasPrice"),
        block_number=opt_at_most(raw.blockNumber, MAX_BLOCK_NUMBER, "blockNumber"),
        tx_index=opt_at_most(raw.transactionIndex, MAX_TX_INDEX, "transactionIndex"),
    )


def normalize_tx(obj: dict[str, Any], chain_id: int, source: str, seen_ms: int) -> Tx:
    """A ``Tx`` from a decoded JSON-RPC transaction object; raises ``Malformed``."""
    try:
        raw = msgspec.convert(obj, RpcTx)
    except msgspec.ValidationError as exc:
        raise Malformed(shape_reason(exc)) from None
    return tx_from_rpc(raw, chain_id, source, seen_ms)


# --- receipts and traces -----------------------------------------------------------------------


def receipt_from_rpc(raw: RpcReceipt) -> Receipt:
    logs: tuple[dict[str, Any], ...] = ()
    if raw.logs:
        logs = tuple(
            {
                "address": addr(log.address, "logs.address"),
                "topics": tuple(hash32(t, "logs.topics") for t in log.topics),
                "data": hex_data(log.data, "logs.data", MAX_BLOCK_PAYLOAD_BYTES),
                "log_index": opt_qty(log.logIndex, "logs.logIndex"),
            }
            for log in raw.logs
        )
    return Receipt(
        tx_hash=hash32(raw.transactionHash, "transactionHash"),
        tx_index=qty(raw.transactionIndex, "transactionIndex"),
        status=opt_qty(raw.status, "status"),
        gas_used=qty(raw.gasUsed, "gasUsed"),
        effective_gas_price=opt_qty(raw.effectiveGasPrice, "effectiveGasPrice"),
        to=opt_addr(raw.to, "to"),
        contract_address=opt_addr(raw.contractAddress, "contractAddress"),
        logs=logs,
    )


def trace_from_rpc(raw: RpcTrace) -> Trace:
    action = raw.action
    if action is None:
        raise Malformed("missing field 'action'")
    if raw.traceAddress is None:
        raise Malformed("missing field 'traceAddress'")
    kind = required(raw.type, "type")
    result = raw.result
    tx_hash = (
        None if raw.transactionHash is None else hash32(raw.transactionHash, "transactionHash")
    )
    gas_used = None if result is None else opt_qty(result.gasUsed, "result.gasUsed")
    call_type: str | None = None
    if kind == "call":
        call_type = action.callType
        sender = opt_addr(action.sender, "action.from")
        to = opt_addr(action.to, "action.to")
        if action.value is None and call_type in ("staticcall", "delegatecall"):
            value = 0  # some tracers omit the value of frames that cannot move ether
        else:
            value = qty(action.value, "action.value")
        gas = qty(action.gas, "action.gas")
        data = hex_data(action.input, "action.input", MAX_BLOCK_PAYLOAD_BYTES)
        output = None if result is None or result.output is None else result.output.lower()
    elif kind == "create":
        sender = opt_addr(action.sender, "action.from")
        to = None if result is None else opt_addr(result.address, "result.address")
        value = qty(action.value, "action.value")
        gas = qty(action.gas, "action.gas")
        data = hex_data(action.init, "action.init", MAX_BLOCK_PAYLOAD_BYTES)
        output = None if result is None or result.code is None else result.code.lower()
    elif kind in ("suicide", "selfdestruct"):
        sender = opt_addr(action.address, "action.address")
        to = opt_addr(action.refundAddress, "action.refundAddress")
        value = qty(action.balance, "action.balance")
        gas, data, output = 0, "0x", None
    elif kind == "reward":
        # The reward kind ("block", "uncle") rides in call_type; the author receives the value.
        call_type = action.rewardType
        sender = None
        to = opt_addr(action.author, "action.author")
        value = qty(action.value, "action.value")
        gas, data, output = 0, "0x", None
    else:
        raise Malformed(f"unknown trace type: {show(kind)}")
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
        raw = msgspec.convert(obj, RpcTrace)
    except msgspec.ValidationError as exc:
        raise Malformed(shape_reason(exc)) from None
    return trace_from_rpc(raw)
