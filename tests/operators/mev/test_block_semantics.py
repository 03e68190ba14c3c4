"""Rules of the block classifiers that the reference blocks do not pin down."""

from __future__ import annotations

import msgspec
from eth_abi import encode

from operators.abi_decoding import Function
from operators.mev import analyze_block
from operators.mev.classify import frames_by_tx
from operators.mev.protocols.balancer import VAULT
from operators.records import Block
from tests.operators.mev.traces import (
    TRANSFER,
    TRANSFER_FROM,
    V2_SWAP,
    block_of,
    call,
    calldata,
    v2_swap_tx,
)

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
TOKEN = "0x9813037ee2218799597d83d4a5b6f3b6778218d9"
PAIR = "0xefb47fcfcad4f96c83d4ca676842fb03ef20a477"
BOT = "0x000000000027d2efc283613d0c3e24a8b430c4d8"
USER = "0x03f7724180aa6b939894b5ca4314783b0b36b329"


def test_a_frame_inside_a_reverted_call_is_reverted() -> None:
    traces = [
        call("0xa", (), USER, BOT, "0x"),
        call("0xa", (0,), BOT, PAIR, "0x", error="Reverted"),
        call("0xa", (0, 0), PAIR, TOKEN, calldata(TRANSFER, USER, 5)),
        call("0xa", (1,), BOT, TOKEN, calldata(TRANSFER, USER, 5)),
    ]
    frames = {f.address: f for f in frames_by_tx(traces)["0xa"]}
    assert frames[(0,)].error == "Reverted"
    assert frames[(0, 0)].error == "Reverted"  # inherited, its own error is None
    assert frames[(0, 0)].trace.error is None
    assert frames[(1,)].error is None  # a sibling of the reverted call is fine


def test_sandwich_needs_executed_swaps() -> None:
    def block(backrun_error: str | None) -> Block:
        return block_of(
            [
                *v2_swap_tx("0x1", 1, BOT, PAIR, WETH, 10**18, TOKEN, 900),
                *v2_swap_tx("0x2", 2, USER, PAIR, WETH, 10**17, TOKEN, 80),
                *v2_swap_tx("0x3", 3, BOT, PAIR, TOKEN, 900, WETH, 11 * 10**17, backrun_error),
            ]
        )

    [sandwich] = analyze_block(block(None)).sandwiches
    assert [v.tx_hash for v in sandwich.victims] == ["0x2"]
    assert sandwich.profit_amount == 10**17
    reverted = analyze_block(block("Reverted"))
    assert reverted.sandwiches == []
    # The reverted backrun is still a swap, marked with its tx's error.
    assert [s.error for s in reverted.swaps] == [None, None, "Reverted"]


def test_pair_swap_with_a_dangling_bytes_offset_still_decodes() -> None:
    # Four bare words: the ``bytes`` offset points into the head; pairs accept this calldata.
    selector = Function.parse(V2_SWAP).selector
    data = selector + encode(["uint256", "uint256", "address", "uint256"], [0, 7, BOT, 0]).hex()
    args = Function.parse(V2_SWAP).decode_input(data)
    assert args == {"amount0Out": 0, "amount1Out": 7, "to": BOT, "data": None}
    assert Function.parse(V2_SWAP).decode_input(selector + "00" * 20) is None


def test_balancer_v2_vault_swap_reports_the_pool_of_its_pool_id() -> None:
    pool = "0x32296969ef14eb0c6d29669c550d4a0449130230"
    pool_id = bytes.fromhex(pool[2:]) + bytes.fromhex("000000000000000000000080")
    vault_swap = calldata(
        "swap((bytes32,uint8,address,address,uint256,bytes) singleSwap,"
        "(address,bool,address,bool) funds,uint256 limit,uint256 deadline)",
        (pool_id, 0, TOKEN, WETH, 500, b""),
        (USER, False, USER, False),
        1,
        2**255,
    )
    traces = [
        call("0xb", (), USER, VAULT, vault_swap),
        call("0xb", (0,), VAULT, TOKEN, calldata(TRANSFER_FROM, USER, VAULT, 500)),
        call("0xb", (1,), VAULT, WETH, calldata(TRANSFER, USER, 499)),
    ]
    [swap] = analyze_block(block_of(traces)).swaps
    assert (swap.protocol, swap.pool) == ("balancer_v2", pool)
    assert (swap.token_in, swap.amount_in, swap.token_out, swap.amount_out) == (
        TOKEN,
        500,
        WETH,
        499,
    )


def test_a_transfer_that_reverted_inside_a_swap_is_not_its_output() -> None:
    traces = v2_swap_tx("0x1", 1, BOT, PAIR, WETH, 10**18, TOKEN, 900)
    assert len(analyze_block(block_of(traces)).swaps) == 1
    # The pair's payout call failed (caught by the caller): no tokens came out, no swap.
    payout = traces[-1]
    failed = [*traces[:-1], msgspec.structs.replace(payout, error="Reverted")]
    assert analyze_block(block_of(failed)).swaps == []
