"""CoW Protocol settlements with traces on real mainnet blocks: two of mev-inspect-py's reference
blocks (flashbots/mev-inspect-py tests/blocks, MIT, tests/data/mev/README.md) hold a ``settle``
call, one on the first GPv2Settlement deployment (12914944, CRV sold for ETH) and one on the
current one (13666184, sold for USDC through a Uniswap V2 route). Each settles one order; the
swap is checked against the token movements in the same traces, decoded here independently:
the vault relayer's pull from the owner and the settlement's payout to it."""

from __future__ import annotations

import pytest
from eth_abi import decode

from operators.mev.model import ETH
from tests.operators.mev.conftest import analysis, block

TRANSFER_FROM, TRANSFER, SETTLE = "0x23b872dd", "0xa9059cbb", "0x13d79a0b"


@pytest.mark.parametrize(
    ("number", "settlement"),
    [
        (12914944, "0x3328f5f2cecaf00a2443082b657cedeaf70bfaef"),
        (13666184, "0x9008d19f58aabd9ed0d60971565aa8510560ab41"),
    ],
)
def test_a_settled_order_is_a_swap_of_its_owner(number: int, settlement: str) -> None:
    [swap] = [s for s in analysis(number).swaps if s.protocol == "cow"]
    traces = [t for t in block(number).traces if t.tx_hash == swap.tx_hash]
    [call] = [t for t in traces if t.to == settlement and t.input.startswith(SETTLE)]
    assert call.trace_address == () and swap.pool == settlement
    [pull] = [
        t
        for t in traces
        if t.input.startswith(TRANSFER_FROM)
        and decode(["address", "address", "uint256"], bytes.fromhex(t.input[10:]))[1] == settlement
    ]
    owner, _, sold = decode(["address", "address", "uint256"], bytes.fromhex(pull.input[10:]))
    assert swap.trace_address == pull.trace_address
    assert (swap.sender, swap.recipient) == (owner, owner)
    assert (swap.token_in, swap.amount_in) == (pull.to, sold)
    payouts = [t for t in traces if t.sender == settlement and t.call_type == "call"]
    if swap.token_out == ETH:
        [paid] = [t.value for t in payouts if t.to == owner and t.value > 0]
    else:
        [paid] = [
            decode(["address", "uint256"], bytes.fromhex(t.input[10:]))[1]
            for t in payouts
            if t.to == swap.token_out
            and t.input.startswith(TRANSFER)
            and decode(["address", "uint256"], bytes.fromhex(t.input[10:]))[0] == owner
        ]
    assert swap.amount_out == paid


def test_the_solvers_amm_route_inside_a_settlement_stays_its_own_swaps() -> None:
    swaps = analysis(13666184).swaps
    [trade] = [s for s in swaps if s.protocol == "cow"]
    route = [s for s in swaps if s.tx_hash == trade.tx_hash and s.protocol != "cow"]
    assert [s.protocol for s in route] == ["uniswap_v2", "uniswap_v2"]
    assert route[0].token_in == trade.token_in and route[-1].token_out == trade.token_out
    assert not [a for a in analysis(13666184).arbitrages if a.swaps[0].tx_hash == trade.tx_hash]
