"""operators.enrich on real mainnet calls that the bundled chain samples lack.

``tests/data/enrich/real_router_calls.json`` holds signed mainnet transactions (see NOTICE.md):
Universal Router ``execute(bytes,bytes[])`` (the variant without deadline) and a V3 SwapRouter
``multicall(bytes[])`` whose first call is ``exactOutput((bytes,address,uint256,uint256,uint256))``.
Each one is first proven to be what its hash says (the signed envelope hashes to it and recovers
its sender), then normalized by ``operators.normalize`` and enriched. Expected swaps are read from
the raw input with ``eth_abi.decode`` here, and cross-checked against fields the router words do
not carry (the ETH value paid, the Permit2 token, a following UNWRAP_WETH).

No real transaction calling SwapRouter02 ``exactOutput((bytes,address,uint256,uint256))`` or
``multicall(bytes32,bytes[])`` was found; those stay covered by synthetic calldata in
test_enrich.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_abi import decode
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from operators.enrich import enrich
from operators.normalize import normalize_tx
from operators.records import Swap, Tx

DATA = Path(__file__).resolve().parent.parent / "data" / "enrich" / "real_router_calls.json"
CALLS: list[dict[str, Any]] = json.loads(DATA.read_text())

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
MSG_SENDER = "0x" + "00" * 19 + "01"
ADDRESS_THIS = "0x" + "00" * 19 + "02"
CONTRACT_BALANCE = 1 << 255
UR_EXECUTE = "0x24856bc3"
V3_MULTICALL = "0xac9650d8"
V3_EXACT_OUTPUT = "0xf28c0498"
UR_LABELS = {
    "0x3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad": "Uniswap: Universal Router V1.2",
    "0x66a9893cc07d91d95644aedd05d03f95e1dba8af": "Uniswap: Universal Router V2",
}

UR_V3_IN, UR_V3_OUT, UR_V2_IN, UR_V2_OUT = 0x00, 0x01, 0x08, 0x09
UR_PERMIT2_PERMIT, UR_WRAP_ETH, UR_UNWRAP_WETH = 0x0A, 0x0B, 0x0C
UR_V3_TYPES = ["address", "uint256", "uint256", "bytes", "bool"]
UR_V2_TYPES = ["address", "uint256", "uint256", "address[]", "bool"]
PERMIT_SINGLE = "((address,uint160,uint48,uint48),address,uint256)"


def _id(call: dict[str, Any]) -> str:
    return str(call["hash"][:10])


def _calls(selector: str) -> list[dict[str, Any]]:
    return [c for c in CALLS if c["input"].startswith(selector)]


# --- provenance: the signed envelope hashes to the stated hash ---------------------------------


def signed_envelope(call: dict[str, Any]) -> bytes:
    """The transaction as it was signed and broadcast, rebuilt from the recorded fields."""
    signed = call["signed"]
    if "raw" in signed:
        return bytes(HexBytes(signed["raw"]))
    if signed["type"] == "0x0":
        quantities = [int(signed[k], 16) for k in ("nonce", "gasPrice", "gas")]
        target, value, data = HexBytes(call["to"]), int(call["value"], 16), HexBytes(call["input"])
        signature = [int(signed[k], 16) for k in ("v", "r", "s")]
        return rlp.encode([*quantities, target, value, data, *signature])
    typed = {
        k: signed[k]
        for k in ("type", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "accessList")
    }
    typed |= {"chainId": hex(call["chain_id"]), "to": to_checksum_address(call["to"])}
    typed |= {"value": call["value"], "data": call["input"]}
    typed |= {"v": signed["v"], "r": signed["r"], "s": signed["s"]}
    return TypedTransaction.from_dict(typed).encode()


def rpc_object(call: dict[str, Any]) -> dict[str, Any]:
    """The JSON-RPC transaction object the node would serve for this call."""
    signed = call["signed"]
    if "raw" in signed:
        fields = TypedTransaction.from_bytes(HexBytes(signed["raw"])).as_dict()
        signed = {
            "type": hex(fields["type"]),
            "nonce": hex(fields["nonce"]),
            "gas": hex(fields["gas"]),
            "maxFeePerGas": hex(fields["maxFeePerGas"]),
            "maxPriorityFeePerGas": hex(fields["maxPriorityFeePerGas"]),
        }
    block = call["block_number"]
    return {
        **{k: v for k, v in signed.items() if k not in ("raw", "accessList", "v", "r", "s")},
        "hash": call["hash"],
        "from": call["from"],
        "to": call["to"],
        "value": call["value"],
        "input": call["input"],
        "chainId": hex(call["chain_id"]),
        "blockNumber": None if block is None else hex(block),
    }


def normalized(call: dict[str, Any]) -> Tx:
    return normalize_tx(rpc_object(call), call["chain_id"], "replay", 0)


@pytest.mark.parametrize("call", CALLS, ids=_id)
def test_each_sample_is_the_signed_transaction_its_hash_names(call: dict[str, Any]) -> None:
    envelope = signed_envelope(call)
    assert "0x" + keccak(envelope).hex() == call["hash"]
    assert Account.recover_transaction(envelope).lower() == call["from"]
    assert call["chain_id"] == 1  # every sample here is Ethereum mainnet
    if "raw" in call["signed"]:
        fields = TypedTransaction.from_bytes(HexBytes(envelope)).as_dict()
        assert fields["chainId"] == call["chain_id"]
        assert HexBytes(fields["data"]) == HexBytes(call["input"])
        assert HexBytes(fields["to"]) == HexBytes(call["to"])
        assert fields["value"] == int(call["value"], 16)


def test_the_samples_cover_both_methods_and_two_router_versions() -> None:
    executes = _calls(UR_EXECUTE)
    assert len(executes) >= 10
    assert {c["to"] for c in executes} == set(UR_LABELS)
    multicalls = _calls(V3_MULTICALL)
    assert multicalls
    for call in multicalls:
        (inner,) = decode(["bytes[]"], bytes.fromhex(call["input"][10:]))
        assert "0x" + inner[0][:4].hex() == V3_EXACT_OUTPUT


# --- Universal Router execute(bytes,bytes[]) --------------------------------------------------


def packed_path(path: bytes, reverse: bool) -> tuple[tuple[str, ...], tuple[int, ...]]:
    tokens = tuple("0x" + path[i : i + 20].hex() for i in range(0, len(path), 23))
    fees = tuple(int.from_bytes(path[i : i + 3], "big") for i in range(20, len(path), 23))
    return (tokens[::-1], fees[::-1]) if reverse else (tokens, fees)


def resolved(recipient: str, tx: Tx) -> str:
    return {MSG_SENDER: tx.sender, ADDRESS_THIS: str(tx.to)}.get(recipient, recipient)


def expected_ur_swaps(tx: Tx) -> list[Swap]:
    """The swap commands of the raw input, each read with eth_abi from its own input bytes."""
    commands, inputs = decode(["bytes", "bytes[]"], bytes.fromhex(tx.input[10:]))
    swaps = []
    for command, data in zip(commands, inputs, strict=True):
        kind = command & 0x7F
        if kind not in (UR_V3_IN, UR_V3_OUT, UR_V2_IN, UR_V2_OUT):
            continue
        v3 = kind in (UR_V3_IN, UR_V3_OUT)
        exact_in = kind in (UR_V3_IN, UR_V2_IN)
        recipient, amount, bound, path, _ = decode(UR_V3_TYPES if v3 else UR_V2_TYPES, data)
        tokens, fees = packed_path(path, not exact_in) if v3 else (tuple(path), ())
        if exact_in and (amount == CONTRACT_BALANCE or (not v3 and amount == 0)):
            amount = None  # the router's balance, or a pair an earlier command already paid
        swaps.append(
            Swap(
                "uniswap_v3" if v3 else "uniswap_v2",
                str(tx.to),
                tokens,
                exact_in,
                amount_in=amount if exact_in else None,
                amount_out=None if exact_in else amount,
                amount_out_min=bound if exact_in else None,
                amount_in_max=None if exact_in else bound,
                recipient=resolved(recipient, tx),
                deadline=None,
                fees=fees,
            )
        )
    return swaps


@pytest.mark.parametrize("call", _calls(UR_EXECUTE), ids=_id)
def test_universal_router_execute_without_deadline(call: dict[str, Any]) -> None:
    tx = normalized(call)
    etx = enrich(tx)
    assert etx.kind == "swap"
    assert etx.to_label == UR_LABELS[call["to"]]
    assert etx.call is not None and etx.call.signature == "execute(bytes,bytes[])"
    assert "deadline" not in etx.call.args
    assert list(etx.swaps) == expected_ur_swaps(tx)


@pytest.mark.parametrize("call", _calls(UR_EXECUTE), ids=_id)
def test_universal_router_swaps_agree_with_the_commands_around_them(call: dict[str, Any]) -> None:
    """Facts the swap words do not carry: the ETH the sender paid, the token Permit2 was given,
    and where an UNWRAP_WETH after the swap sends the proceeds."""
    tx = normalized(call)
    (swap,) = enrich(tx).swaps
    commands, inputs = decode(["bytes", "bytes[]"], bytes.fromhex(tx.input[10:]))
    kinds = [c & 0x7F for c in commands]
    if kinds[0] == UR_WRAP_ETH:
        wrap_to, wrapped = decode(["address", "uint256"], inputs[0])
        assert wrap_to == ADDRESS_THIS and wrapped == tx.value
        assert (swap.token_in, swap.amount_in) == (WETH, tx.value)
    if kinds[0] == UR_PERMIT2_PERMIT:
        permit, _signature = decode([PERMIT_SINGLE, "bytes"], inputs[0])
        assert tx.value == 0 and swap.token_in == permit[0][0]
    if kinds[-1] == UR_UNWRAP_WETH:
        assert swap.token_out == WETH and swap.recipient == tx.to
    assert kinds[0] in (UR_WRAP_ETH, UR_PERMIT2_PERMIT)  # every sample starts by funding the swap


# --- V3 SwapRouter multicall(bytes[]) > exactOutput --------------------------------------------


@pytest.mark.parametrize("call", _calls(V3_MULTICALL), ids=_id)
def test_v3_swap_router_exact_output_inside_a_multicall(call: dict[str, Any]) -> None:
    tx = normalized(call)
    etx = enrich(tx)
    (inner,) = decode(["bytes[]"], bytes.fromhex(tx.input[10:]))
    ((path, recipient, deadline, amount_out, amount_in_max),) = decode(
        ["(bytes,address,uint256,uint256,uint256)"], inner[0][4:]
    )
    tokens, fees = packed_path(path, reverse=True)
    assert etx.kind == "swap" and etx.to_label == "Uniswap V3: SwapRouter"
    assert etx.swaps == (
        Swap(
            "uniswap_v3",
            str(tx.to),
            tokens,
            False,
            amount_in=None,
            amount_out=amount_out,
            amount_out_min=None,
            amount_in_max=amount_in_max,
            recipient=recipient,
            deadline=deadline,
            fees=fees,
        ),
    )
    # Paid in ETH: the router wraps the value, so the input is WETH and the value is the cap
    # (the refundETH that follows returns what the swap did not use).
    assert etx.swaps[0].token_in == WETH and tx.value == amount_in_max
    assert "0x" + inner[-1][:4].hex() == "0x12210e8a"  # refundETH()
