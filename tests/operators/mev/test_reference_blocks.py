"""Block detection agrees with mev-inspect-py on the real mainnet blocks of its test suite:
same txs, positions, trace addresses, tokens and amounts to the wei."""

from __future__ import annotations

import pytest

from operators.mev.model import SwapEvent
from tests.operators.mev.conftest import analysis, expected
from tests.operators.mev.test_reference_extras import REFERENCE_PROTOCOLS

LIQUIDATIONS = expected("liquidations.json")
ARBITRAGES = expected("arbitrages.json")


def _swap_as_reference(swap: SwapEvent, block_number: int) -> dict:
    """A swap in mev-inspect-py's field names (abi_name left out: we do not carry ABI names)."""
    return {
        "transaction_hash": swap.tx_hash,
        "transaction_position": swap.tx_position,
        "block_number": block_number,
        "trace_address": list(swap.trace_address),
        "contract_address": swap.pool,
        "from_address": swap.sender,
        "to_address": swap.recipient,
        "token_in_address": swap.token_in,
        "token_in_amount": swap.amount_in,
        "token_out_address": swap.token_out,
        "token_out_amount": swap.amount_out,
        "protocol": swap.protocol,
        "error": swap.error,
    }


def _without_abi(swap: dict) -> dict:
    return {k: v for k, v in swap.items() if k != "abi_name"}


@pytest.mark.parametrize("block_number", [12914944, 12483198, 12775690])
def test_swap_counts(block_number: int) -> None:
    # The reference's count is of its protocols' swaps (extras: test_reference_extras.py).
    ours = [s for s in analysis(block_number).swaps if s.protocol in REFERENCE_PROTOCOLS]
    assert len(ours) == ARBITRAGES[str(block_number)]["swap_count"]


def test_sandwich_block_12775690() -> None:
    [want] = expected("sandwiches/12775690.json")
    [got] = analysis(12775690).sandwiches
    assert got.sandwicher == want["sandwicher_address"]
    assert _swap_as_reference(got.frontrun, 12775690) == _without_abi(want["frontrun_swap"])
    assert _swap_as_reference(got.backrun, 12775690) == _without_abi(want["backrun_swap"])
    assert [_swap_as_reference(v, 12775690) for v in got.victims] == [
        _without_abi(v) for v in want["sandwiched_swaps"]
    ]
    assert got.profit_token == want["profit_token_address"]
    assert got.profit_amount == want["profit_amount"]


def test_arbitrages_block_12914944() -> None:
    want = ARBITRAGES["12914944"]
    arbitrages = analysis(12914944).arbitrages
    assert len(arbitrages) == want["arbitrage_count"]
    by_tx = {a.swaps[0].tx_hash: a for a in arbitrages}
    for arb in want["arbitrages"]:
        got = by_tx[arb["transaction_hash"]]
        assert len(got.swaps) == arb["swap_count"]
        assert got.profit_token == arb["profit_token_address"]
        assert got.swaps[1].token_in == arb["second_swap_token_in"]
        assert got.swaps[1].token_out == arb["second_swap_token_out"]
        assert got.profit_amount == arb["profit_amount"]
        assert got.error is None


def test_reverted_arbitrage_block_12483198() -> None:
    want = ARBITRAGES["12483198"]
    arbitrages = analysis(12483198).arbitrages
    assert len(arbitrages) == want["arbitrage_count"]
    [reverted] = [
        a for a in arbitrages if a.swaps[0].tx_hash == want["arbitrages"][0]["transaction_hash"]
    ]
    assert reverted.error == "Reverted"
    # Only that one reverted: the others are reported as successful.
    assert sum(a.error is not None for a in arbitrages) == 1


@pytest.mark.parametrize(
    "want",
    LIQUIDATIONS,
    ids=[f"{x['block_number']}-{x['transaction_hash'][:10]}" for x in LIQUIDATIONS],
)
def test_liquidation(want: dict) -> None:
    got = [
        {
            "liquidated_user": liq.liquidated_user,
            "liquidator_user": liq.liquidator,
            "debt_token_address": liq.debt_token,
            "debt_purchase_amount": liq.debt_amount,
            "received_amount": liq.received_amount,
            "received_token_address": liq.received_token,
            "protocol": liq.protocol,
            "transaction_hash": liq.tx_hash,
            "trace_address": list(liq.trace_address),
            "block_number": want["block_number"],
        }
        for liq in analysis(want["block_number"]).liquidations
    ]
    assert want in got


def test_reverted_liquidation_is_not_reported() -> None:
    reverted = "0x6dd0d8be8a77651f64ef399b47fbc87011bd796b43349c3164ff7da965e0b345"
    liquidations = analysis(15049646).liquidations
    assert reverted not in {liq.tx_hash for liq in liquidations}


@pytest.mark.parametrize("want", expected("swaps_0x.json"), ids=lambda s: str(s["block_number"]))
def test_zero_ex_fill(want: dict) -> None:
    swaps = [
        _swap_as_reference(s, want["block_number"]) for s in analysis(want["block_number"]).swaps
    ]
    assert swaps.count(_without_abi(want)) == 1


def test_pools_are_attributed_to_the_exchange_that_deployed_them() -> None:
    # Beyond the reference (which calls every V2-interface pair uniswap_v2): the CREATE2 address
    # of a pair tells its factory.
    [sandwich] = analysis(12775690).sandwiches
    assert (sandwich.frontrun.protocol, sandwich.frontrun.exchange) == ("uniswap_v2", "shibaswap")
    by_pool = {s.pool: s.exchange for s in analysis(12914944).swaps}
    assert by_pool["0x397ff1542f962076d0bfe58ea045ffa2d347aca0"] == "sushiswap"  # USDC/WETH
    assert by_pool["0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"] == "uniswap_v3"  # USDC/WETH 0.05%
