"""nft_trade on real mainnet blocks: OpenSea Wyvern ``atomicMatch_`` calls in mev-inspect-py's
reference blocks (flashbots/mev-inspect-py tests/blocks, MIT, tests/data/mev/README.md). The
expected values are decoded here from the raw traces independently of the classifier: the
orders' makers from the call's ABI, the NFT's own transfer call, the ETH the exchange paid out and
the ERC-20 the buyer paid."""

from __future__ import annotations

import pytest
from eth_abi import decode

from operators.mev import detect_block
from operators.mev.model import ETH
from operators.mev.protocols.opensea import EXCHANGES
from operators.records import Trace
from tests.operators.mev.conftest import analysis, block
from tests.operators.mev.test_reference_extras import BLOCKS

ATOMIC_MATCH = "0xab834bab"
ATOMIC_MATCH_TYPES = [
    "address[14]", "uint256[18]", "uint8[8]", "bytes", "bytes", "bytes", "bytes", "bytes",
    "bytes", "uint8[2]", "bytes32[5]",
]  # fmt: skip
NFT_TRANSFERS = {
    "0x23b872dd": ["address", "address", "uint256"],
    "0x42842e0e": ["address", "address", "uint256"],
    "0xf242432a": ["address", "address", "uint256", "uint256", "bytes"],
}


def _inside(traces: list[Trace], call: Trace) -> list[Trace]:
    depth = len(call.trace_address)
    return [
        t
        for t in traces
        if t.tx_hash == call.tx_hash
        and t.trace_address[:depth] == call.trace_address
        and len(t.trace_address) > depth
    ]


def _expected(traces: list[Trace], call: Trace) -> tuple[str, str, str, int] | None:
    """(seller, buyer, collection, token id) where the NFT moved from seller to buyer."""
    addrs = [a.lower() for a in decode(ATOMIC_MATCH_TYPES, bytes.fromhex(call.input[10:]))[0]]
    buyer, collection, seller = addrs[1], addrs[4], addrs[8]
    for t in _inside(traces, call):
        types = NFT_TRANSFERS.get(t.input[:10])
        if t.to == collection and t.call_type == "call" and types:
            sender, recipient, token_id, *_ = decode(types, bytes.fromhex(t.input[10:]))
            if (sender.lower(), recipient.lower()) == (seller, buyer):
                return seller, buyer, collection, token_id
    return None


def _matches(number: int) -> list[Trace]:
    return [
        t
        for t in block(number).traces
        if t.to in EXCHANGES
        and t.call_type == "call"
        and t.input.startswith(ATOMIC_MATCH)
        and t.error is None
    ]


@pytest.mark.parametrize("number", BLOCKS)
def test_every_wyvern_sale_with_a_direct_nft_transfer_is_a_trade(number: int) -> None:
    traces = list(block(number).traces)
    want = {
        (c.tx_hash, c.trace_address, *e)
        for c in _matches(number)
        if (e := _expected(traces, c)) is not None
    }
    got = {
        (t.tx_hash, t.trace_address, t.seller, t.buyer, t.collection, t.token_id)
        for t in analysis(number).nft_trades
    }
    assert got == want


@pytest.mark.parametrize("number", [11931272, 13404932, 13244807, 13302365])
def test_what_the_buyer_paid(number: int) -> None:
    traces = list(block(number).traces)
    trades = analysis(number).nft_trades
    assert trades
    for trade in trades:
        [call] = [
            c
            for c in _matches(number)
            if (c.tx_hash, c.trace_address) == (trade.tx_hash, trade.trace_address)
        ]
        inside = _inside(traces, call)
        if trade.payment_token == ETH:
            out = [t.value for t in inside if t.sender == call.to and t.value > 0]
            refunds = [t.value for t in inside if t.sender == call.to and t.to == trade.buyer]
            assert trade.payment_amount == sum(out) - sum(refunds) > 0
            assert trade.payment_amount <= call.value
        else:
            paid = [
                decode(["address", "address", "uint256"], bytes.fromhex(t.input[10:]))
                for t in inside
                if t.to == trade.payment_token and t.input.startswith("0x23b872dd")
            ]
            mine = [amount for sender, _, amount in paid if sender.lower() == trade.buyer]
            assert trade.payment_amount == sum(mine) > 0


def test_an_erc20_paid_sale_is_among_them() -> None:
    paid_in = {t.payment_token for n in (13244807, 13302365) for t in analysis(n).nft_trades}
    assert "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2" in paid_in  # WETH (accepted offers)


def test_nft_trade_findings_have_natural_keys() -> None:
    found = [d for d in detect_block(block(13404932)) if d.kind == "nft_trade"]
    trades = analysis(13404932).nft_trades
    assert [d.key for d in found] == [f"1:nft_trade:13404932:{t.tx_hash}:root" for t in trades]
    assert {d.data["protocol"] for d in found} == {"opensea"}
    again = [d for d in detect_block(block(13404932)) if d.kind == "nft_trade"]
    assert [d.key for d in again] == [d.key for d in found]
