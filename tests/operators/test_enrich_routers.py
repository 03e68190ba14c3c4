"""operators.enrich on real mainnet calldata: Uniswap V2 Router02, V3 SwapRouter and
SwapRouter02, checked against the hand-read calldata, receipts and traces of enrich_samples.py."""

from __future__ import annotations

from typing import Any

import pytest

from operators.enrich import enrich
from operators.records import Swap, Tx
from tests.operators.enrich_samples import (
    SUSHI_ROUTER,
    TRANSFER_TOPIC,
    V2_LAYOUT,
    V2_ROUTER,
    WETH,
    Calldata,
    logs,
    packed_tokens,
    sample,
    samples,
    the_swap,
    traced,
)

# --- Uniswap V2 Router02 ----------------------------------------------------------------------------

V2_NAMES = {
    "0x38ed1739": "swapExactTokensForTokens",
    "0x8803dbee": "swapTokensForExactTokens",
    "0x7ff36ab5": "swapExactETHForTokens",
    "0x4a25d94a": "swapTokensForExactETH",
    "0x18cbafe5": "swapExactTokensForETH",
    "0xfb3bdb41": "swapETHForExactTokens",
    "0x5c11d795": "swapExactTokensForTokensSupportingFeeOnTransferTokens",
    "0xb6f9de95": "swapExactETHForTokensSupportingFeeOnTransferTokens",
    "0x791ac947": "swapExactTokensForETHSupportingFeeOnTransferTokens",
}


def check_v2_swap(tx: Tx) -> Swap:
    assert tx.selector is not None
    exact_in, eth_in, amount_at, bound_at, path_at, to_at, deadline_at = V2_LAYOUT[tx.selector]
    raw = Calldata(tx.input)
    swap = the_swap(enrich(tx))
    assert swap.protocol == ("sushiswap" if tx.to == SUSHI_ROUTER else "uniswap_v2")
    assert swap.router == tx.to
    assert swap.path == raw.address_array(path_at)
    assert swap.exact_input is exact_in
    assert swap.recipient == raw.address(to_at)
    assert swap.deadline == raw.word(deadline_at)
    amount = tx.value if amount_at is None else raw.word(amount_at)
    bound = tx.value if bound_at == -1 else raw.word(bound_at)
    if exact_in:
        assert (swap.amount_in, swap.amount_out_min, swap.amount_out, swap.amount_in_max) == (
            amount,
            bound,
            None,
            None,
        )
    else:
        assert (swap.amount_out, swap.amount_in_max, swap.amount_in, swap.amount_out_min) == (
            amount,
            bound,
            None,
            None,
        )
    if tx.to in (V2_ROUTER, SUSHI_ROUTER):  # these routers' WETH: ETH in and out go through it
        assert not eth_in or swap.path[0] == WETH
        assert "ETH" not in V2_NAMES[tx.selector].split("For")[-1] or swap.path[-1] == WETH
    return swap


@pytest.mark.parametrize("selector", sorted(V2_LAYOUT))
def test_v2_router_swaps_match_calldata(selector: str) -> None:
    cases = [tx for tx, _ in samples(selector)] + [tx for tx, _ in traced(selector)]
    assert cases, f"no real sample of {selector}"
    for tx in cases:
        check_v2_swap(tx)


def test_v2_swaps_match_what_the_router_pulled_in_traces() -> None:
    """The router's first call moves path[0]: transferFrom(sender, pair, amountIn) or a WETH deposit."""
    checked = 0
    for tx, traces in traced(*V2_LAYOUT):
        swap = check_v2_swap(tx)
        children = [t["action"] for t in traces if len(t["trace_address"]) == 1]
        deposits = [c for c in children if c["to"] == WETH and c["input"] == "0xd0e30db0"]
        if deposits:
            assert swap.path[0] == WETH
            pulled = int(deposits[0]["value"], 16)  # deposit(): the ETH that went in
        else:
            pulled_call = next(
                t["action"]
                for t in traces
                if len(t["trace_address"]) == 1 and t["action"]["input"].startswith("0x23b872dd")
            )
            raw = Calldata(pulled_call["input"])
            assert pulled_call["to"] == swap.path[0]
            assert raw.address(0) == tx.sender
            pulled = raw.word(2)
        if swap.exact_input:
            assert pulled == swap.amount_in
        else:
            assert swap.amount_in_max is not None and pulled <= swap.amount_in_max
        checked += 1
    assert checked >= 8


def test_sushiswap_router_swaps_are_labelled_sushiswap() -> None:
    sushi = [tx for tx, _ in traced(*V2_LAYOUT) if tx.to == SUSHI_ROUTER]
    assert sushi
    for tx in sushi:
        etx = enrich(tx)
        assert etx.to_label == "SushiSwap: Router"
        assert the_swap(etx).protocol == "sushiswap"


def test_v2_swap_receipt_moves_the_decoded_path() -> None:
    checked = 0
    for tx, receipt in samples(*V2_LAYOUT):
        if receipt is None or receipt["status"] != "0x1":
            continue
        swap = check_v2_swap(tx)
        moved = {g["address"].lower() for g in logs(receipt, TRANSFER_TOPIC)}
        assert set(swap.path) <= moved | {WETH}
        out = [g for g in logs(receipt, TRANSFER_TOPIC) if g["address"].lower() == swap.path[-1]]
        assert swap.amount_out_min is None or max(int(g["data"], 16) for g in out) >= (
            swap.amount_out_min
        )
        checked += 1
    assert checked >= 3


# --- Uniswap V3 SwapRouter ------------------------------------------------------------------------


def pool_swap_calls(traces: list[dict[str, Any]]) -> list[Calldata]:
    """Calls the router made to pools: swap(recipient, zeroForOne, amountSpecified, limit, data)."""
    return [
        Calldata(t["action"]["input"])
        for t in traces
        if t["type"] == "call" and t["action"]["input"].startswith("0x128acb08")
    ]


def signed(word: int) -> int:
    return word - (1 << 256) if word >> 255 else word


def test_v3_exact_input_single_matches_calldata_and_pool_call() -> None:
    cases = list(traced("0x414bf389")) + [(tx, []) for tx, _ in samples("0x414bf389")]
    assert len(cases) >= 3
    for tx, traces in cases:
        raw = Calldata(tx.input)
        swap = the_swap(enrich(tx))
        assert swap.protocol == "uniswap_v3"
        assert swap.path == (raw.address(0), raw.address(1))
        assert swap.fees == (raw.word(2),)
        assert swap.deadline == raw.word(4)
        assert (swap.amount_in, swap.amount_out_min) == (raw.word(5), raw.word(6))
        assert swap.exact_input
        for pool_call in pool_swap_calls(traces):
            assert pool_call.address(0) == swap.recipient
            assert signed(pool_call.word(2)) == swap.amount_in


def test_v3_exact_input_packed_path_matches_pool_calls() -> None:
    cases = list(traced("0xc04b8d59"))
    assert cases
    for tx, traces in cases:
        raw = Calldata(tx.input)
        base = raw.word(0)  # the params tuple is dynamic: its head sits at this offset
        tokens, fees = packed_tokens(raw.bytes_at(0, base))
        swap = the_swap(enrich(tx))
        assert (swap.path, swap.fees) == (tokens, fees)
        assert len(swap.path) == len(swap.fees) + 1 >= 2
        assert swap.recipient == raw.address(1, base)
        assert swap.deadline == raw.word(2, base)
        assert (swap.amount_in, swap.amount_out_min) == (raw.word(3, base), raw.word(4, base))
        first_hop = pool_swap_calls(traces)[0]
        assert signed(first_hop.word(2)) == swap.amount_in


def test_v3_exact_output_single_matches_calldata_and_pool_call() -> None:
    cases = list(traced("0xdb3e2198"))
    assert cases
    for tx, traces in cases:
        raw = Calldata(tx.input)
        swap = the_swap(enrich(tx))
        assert swap.path == (raw.address(0), raw.address(1)) and not swap.exact_input
        assert (swap.amount_out, swap.amount_in_max) == (raw.word(5), raw.word(6))
        assert swap.amount_in is None and swap.amount_out_min is None
        assert swap.amount_out is not None
        (pool_call,) = pool_swap_calls(traces)
        assert signed(pool_call.word(2)) == -swap.amount_out  # exact output: negative amount


def test_v3_swap_router_multicall_collects_inner_swaps() -> None:
    cases = list(traced("0xac9650d8")) + [(tx, []) for tx, _ in samples("0xac9650d8")]
    with_swaps = 0
    for tx, traces in cases:
        etx = enrich(tx)
        inner = Calldata(tx.input).bytes_array(0)
        # A packed V3 path is 20 + 23k bytes; other routers reuse the selector with other paths.
        swap_calls = [
            c
            for c in inner
            if c[:4].hex() in ("414bf389", "db3e2198")
            or (
                c[:4].hex() == "c04b8d59"
                and (len(Calldata("0x" + c.hex()).bytes_at(0, 32)) - 20) % 23 == 0
            )
        ]
        assert len(etx.swaps) == len(swap_calls)
        for swap, call in zip(etx.swaps, swap_calls, strict=True):
            raw = Calldata("0x" + call.hex())
            if raw.selector in ("0x414bf389", "0xdb3e2198"):
                assert swap.path == (raw.address(0), raw.address(1))
                if raw.address(3) == "0x" + "00" * 20:
                    assert swap.recipient == tx.to  # address(0): the router keeps the output
        if traces and etx.swaps and len(etx.swaps) == 1:
            pool_call = pool_swap_calls(traces)[0]
            assert pool_call.address(0) == etx.swaps[0].recipient or len(etx.swaps[0].path) > 2
        with_swaps += bool(etx.swaps)
    assert with_swaps >= 3


# --- SwapRouter02 ---------------------------------------------------------------------------------


def test_router02_multicall_with_deadline_collects_every_inner_swap() -> None:
    cases = list(samples("0x5ae401dc"))
    assert len(cases) >= 5
    for tx, receipt in cases:
        raw = Calldata(tx.input)
        deadline = raw.word(0)
        inner = [Calldata("0x" + c.hex()) for c in raw.bytes_array(1)]
        expected: list[tuple[tuple[str, ...], int | None, int | None]] = []
        for call in inner:
            if call.selector == "0x472b43f3":  # swapExactTokensForTokens(in, outMin, path, to)
                expected.append((call.address_array(2), call.word(0) or None, call.word(1)))
            elif call.selector == "0x42712a67":  # swapTokensForExactTokens(out, inMax, path, to)
                expected.append((call.address_array(2), call.word(0), call.word(1)))
            elif call.selector in (
                "0x04e45aaf",
                "0x5023b4df",
            ):  # (in, out, fee, to, amt, bound, lim)
                expected.append(((call.address(0), call.address(1)), call.word(4), call.word(5)))
            elif call.selector in ("0xb858183f", "0x09b81346"):
                base = call.word(0)
                tokens, _ = packed_tokens(call.bytes_at(0, base))
                if call.selector == "0x09b81346":
                    tokens = tokens[::-1]
                expected.append((tokens, call.word(2, base) or None, call.word(3, base)))
        etx = enrich(tx)
        got = [
            (
                s.path,
                s.amount_in if s.exact_input else s.amount_out,
                s.amount_out_min if s.exact_input else s.amount_in_max,
            )
            for s in etx.swaps
        ]
        assert got == expected
        assert all(s.deadline == deadline for s in etx.swaps)
        assert all(
            s.recipient not in ("0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02") for s in etx.swaps
        )
        if receipt is not None and receipt["status"] == "0x1":
            moved = {g["address"].lower() for g in logs(receipt, TRANSFER_TOPIC)}
            assert all(set(s.path) <= moved for s in etx.swaps)


def test_router02_recipient_constants_resolve_to_sender_and_router() -> None:
    seen = set()
    for tx, _ in samples("0x5ae401dc"):
        for call in Calldata(tx.input).bytes_array(1):
            raw = Calldata("0x" + call.hex())
            if raw.selector == "0x472b43f3":
                seen.add(raw.address(3))
    assert {"0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02"} & seen  # real txs use the constants
    for tx, _ in samples("0x5ae401dc"):
        for swap in enrich(tx).swaps:
            assert swap.recipient != "0x" + "00" * 19 + "01"


@pytest.mark.parametrize(
    ("tx_hash", "selector"),
    [
        ("0xdeb87fc41e9b0bd0925a634a0639217e745825b9caa314deee7a746c1123b7d2", "0x5023b4df"),
        ("0x63161406b8e395f32347bfe3f305eff5e4bbaedec1d37b290521836d3a69d58d", "0x42712a67"),
        ("0x308eef96e67ab03a7bb0af6c9735d6a6fd3930a0a5cfb614b9909a581e6b9e20", "0xb858183f"),
    ],
)
def test_router02_exact_output_and_exact_input_inside_real_multicalls(
    tx_hash: str, selector: str
) -> None:
    tx, _ = sample(tx_hash)
    inner = [Calldata("0x" + c.hex()) for c in Calldata(tx.input).bytes_array(1)]
    (call,) = [c for c in inner if c.selector == selector]
    swaps = [s for s in enrich(tx).swaps if s.exact_input == (selector == "0xb858183f")]
    assert swaps
    swap = swaps[0]
    if selector == "0x5023b4df":
        assert swap.path == (call.address(0), call.address(1))
        assert (swap.amount_out, swap.amount_in_max) == (call.word(4), call.word(5))
        assert swap.fees == (call.word(2),)
    elif selector == "0x42712a67":
        assert swap.path == call.address_array(2)
        assert (swap.amount_out, swap.amount_in_max) == (call.word(0), call.word(1))
    else:
        base = call.word(0)
        assert (swap.path, swap.fees) == packed_tokens(call.bytes_at(0, base))
        assert swap.amount_out_min == call.word(3, base)


def test_router02_top_level_exact_input_single_and_exact_input() -> None:
    for selector in ("0x04e45aaf", "0xb858183f", "0x472b43f3"):
        cases = list(samples(selector))
        assert cases, selector
        for tx, _ in cases:
            swap = the_swap(enrich(tx))
            raw = Calldata(tx.input)
            if selector == "0x04e45aaf":
                assert swap.path == (raw.address(0), raw.address(1))
                assert swap.amount_out_min == raw.word(5)
            elif selector == "0xb858183f":
                base = raw.word(0)
                assert (swap.path, swap.fees) == packed_tokens(raw.bytes_at(0, base))
                assert swap.amount_out_min == raw.word(3, base)
            else:
                assert swap.path == raw.address_array(2)
                assert swap.amount_out_min == raw.word(1)
            assert swap.deadline is None  # no multicall around it: SwapRouter02 has no deadline
