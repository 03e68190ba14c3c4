"""Aggregator settlement paths (protocols/aggregators.py, docs/mev.md "Aggregators") on real
mainnet data: the pool swaps an aggregator makes are its legs, each names the aggregator in
``router``, and the aggregator's own call is never a swap, so a routed trade counts once.

Trace path: mev-inspect-py's reference blocks (MIT), which hold 1inch AggregationRouter V3/V4,
0x Exchange Proxy, ParaSwap and MetaMask router calls. Log path: mainnet receipts of blocks
18,999,999 and 19,125,000 (erigontech/rpc-tests, Apache-2.0), with 1inch AggregationRouter V5
and MetaMask router txs. No 0x Settler tx is in either (Settler postdates them; no Settler build
is on npm), so Settler's entry points are classified but not exercised here."""

from __future__ import annotations

import pytest

from operators.mev import analyze_block
from operators.mev.protocols.aggregators import ROUTERS
from tests.operators.mev.conftest import analysis, block
from tests.operators.mev.test_protocols_real_receipts import _block, _receipts
from tests.operators.mev.test_reference_extras import BLOCKS

# Protocols whose swaps are orders filled by an aggregator's contract itself.
ORDER_FILLS = {"0x", "1inch_limit_order"}


def _router_calls(number: int) -> dict[str, list[tuple[tuple[int, ...], str]]]:
    """Each tx's calls into a listed aggregator, straight from the block's raw traces."""
    calls: dict[str, list[tuple[tuple[int, ...], str]]] = {}
    for trace in block(number).traces:
        if trace.to in ROUTERS and trace.tx_hash is not None and trace.type == "call":
            calls.setdefault(trace.tx_hash, []).append((trace.trace_address, ROUTERS[trace.to]))
    return calls


@pytest.mark.parametrize("number", BLOCKS)
def test_swaps_under_an_aggregator_name_it_and_it_adds_no_swap(number: int) -> None:
    calls = _router_calls(number)
    for swap in analysis(number).swaps:
        above = [
            (path, name)
            for path, name in calls.get(swap.tx_hash, [])
            if len(path) < len(swap.trace_address) and swap.trace_address[: len(path)] == path
        ]
        # The innermost aggregator call above the pool call names the leg; none: no router.
        expected = max(above, key=lambda c: len(c[0]))[1] if above else None
        assert swap.router == expected, (number, swap.tx_hash, swap.trace_address)
        if swap.protocol in ORDER_FILLS:
            continue  # an order filled from a maker's balance: a swap of its own (0x native)
        # The aggregator is never a swap itself: no swap is read off its call or has it as pool.
        assert swap.pool not in ROUTERS
        assert (swap.trace_address, swap.tx_hash) not in {
            (path, tx) for tx, found in calls.items() for path, _ in found
        }


def test_a_1inch_route_is_its_pool_legs() -> None:
    """Reference block 13302365: one 1inch AggregationRouter V3 swap split over nine pool
    calls (Balancer V1, Uniswap V2, Balancer V2): nine swaps, each a leg named 1inch."""
    tx = "0xf687fedbc4bbc25adb3ef3a35c20c38fb7d35d86d7633d5061d2e3c4f86311b7"
    legs = [s for s in analysis(13302365).swaps if s.tx_hash == tx]
    assert [(s.protocol, s.trace_address) for s in legs] == [
        ("balancer_v1", (2, 1)),
        ("balancer_v1", (2, 2, 2)),
        ("uniswap_v2", (2, 6, 2)),
        ("balancer_v1", (2, 7, 2)),
        ("balancer_v1", (2, 8, 2)),
        ("balancer_v2", (2, 10, 2)),
        ("balancer_v1", (2, 11, 2)),
        ("balancer_v1", (2, 12, 2)),
        ("uniswap_v2", (2, 17, 2)),
    ]
    assert {s.router for s in legs} == {"1inch"}
    assert all(leg.to_data()["router"] == "1inch" for leg in legs)


def test_aggregators_seen_in_the_reference_blocks() -> None:
    routed = {s.router for n in BLOCKS for s in analysis(n).swaps if s.router is not None}
    # MetaMask's router hands every trade to another aggregator here, which names the legs.
    assert routed == {"1inch", "0x", "paraswap"}
    unrouted = [s for s in analysis(12775690).swaps if s.router is None]
    assert unrouted and "router" not in unrouted[0].to_data()


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "erigon_getBlockReceiptsByBlockHash-test_08.json.gz",  # block 18,999,999
            {
                ("0x0b064eeca94e1661a72d47172419377652ff4a3d42428a4db2a273916e15bc52", "1inch"): 3,
                ("0xac8918496a9e16181418d444e4d62a8ed60bbe33b5d9a8f2ec4ac955e768bf74", "1inch"): 1,
                ("0xf1b37c363b11b42ed6f516109d888402797b9a968ed5559452ef1bd7f22fe94a", "1inch"): 1,
            },
        ),
        (
            "eth_getBlockReceipts-test_09.json.gz",  # block 19,125,000
            {
                ("0x4d8e413a85a0ff627789550ef3bb91fc39df4f166005700f935c6dcbe9ebf9dc", "1inch"): 1,
                (
                    "0x83816023546d952aeabebebfa8b0b52ba32d68529eac612b88e3dd4437ff6543",
                    "metamask",
                ): 1,
            },
        ),
    ],
)
def test_log_path_names_the_aggregator_a_tx_was_sent_to(
    fixture: str, expected: dict[tuple[str, str], int]
) -> None:
    built = _block(_receipts(fixture))
    sent_to = {r.tx_hash: ROUTERS.get(r.to or "") for r in built.receipts}
    swaps = analyze_block(built).swaps
    for swap in swaps:
        assert swap.router == sent_to[swap.tx_hash]
    counted: dict[tuple[str, str], int] = {}
    for swap in swaps:
        if swap.router is not None:
            key = (swap.tx_hash, swap.router)
            counted[key] = counted.get(key, 0) + 1
    assert counted == expected
