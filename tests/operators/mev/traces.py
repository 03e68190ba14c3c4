"""Hand-built call traces for unit tests (calldata encoded with eth-abi)."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from operators.abi_decoding import Function
from operators.records import Block, Trace


def calldata(signature: str, *args: Any) -> str:
    function = Function.parse(signature)
    return function.selector + encode(list(function.types), list(args)).hex()


def call(
    tx: str,
    address: tuple[int, ...],
    sender: str,
    to: str,
    data: str = "0x",
    value: int = 0,
    error: str | None = None,
    position: int = 0,
    gas: int = 100_000,
) -> Trace:
    return Trace(
        tx_hash=tx,
        tx_position=position,
        trace_address=address,
        type="call",
        call_type="call",
        sender=sender,
        to=to,
        value=value,
        gas=gas,
        input=data,
        output=None,
        gas_used=None,
        error=error,
        subtraces=0,
    )


TRANSFER = "transfer(address recipient,uint256 amount)"
TRANSFER_FROM = "transferFrom(address sender,address recipient,uint256 amount)"
V2_SWAP = "swap(uint256 amount0Out,uint256 amount1Out,address to,bytes data)"


def v2_swap_tx(
    tx: str,
    position: int,
    trader: str,
    pair: str,
    token_in: str,
    amount_in: int,
    token_out: str,
    amount_out: int,
    error: str | None = None,
) -> list[Trace]:
    """A router-less V2 swap: pay the pair, call swap, the pair pays the trader."""
    return [
        call(tx, (), trader, trader, "0x", error=error, position=position),
        call(tx, (0,), trader, token_in, calldata(TRANSFER, pair, amount_in), position=position),
        call(
            tx, (1,), trader, pair, calldata(V2_SWAP, 0, amount_out, trader, b""), position=position
        ),
        call(
            tx, (1, 0), pair, token_out, calldata(TRANSFER, trader, amount_out), position=position
        ),
    ]


def block_of(traces: list[Trace], source: str = "test") -> Block:
    """A mainnet block at height 1 carrying only ``traces``: what the block detectors read."""
    return Block(
        chain_id=1,
        number=1,
        hash=None,
        timestamp=0,
        miner=None,
        base_fee_per_gas=None,
        first_seen_ms=0,
        source=source,
        traces=tuple(traces),
    )
