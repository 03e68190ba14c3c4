"""Compound V3 (Comet) absorb and buyCollateral, the published-ABI case of docs/mev.md.

No real Comet transaction (traces or receipts) is in the data that can be had here (no
``AbsorbDebt``, ``AbsorbCollateral`` or ``BuyCollateral`` topic in /work/shared or tests/data),
and Comet's bytecode is on no npm package (the registry has only ``@compound-finance/
comet-extension``, a UI SDK without contracts). So these receipts are encoded from Comet's
published event signatures (``CometMainInterface``): what is tested is the reading of those
events, not agreement with a real Comet. The account and token addresses are arbitrary; the Comet
is cUSDCv3's mainnet address so its base token (USDC) comes from data/comet_markets.json."""

from __future__ import annotations

from typing import Any

from eth_abi import encode
from eth_utils import keccak

from operators.mev import analyze_block, detect_block
from operators.mev.protocols import comet
from operators.records import Block, Receipt

COMET = "0xc3d688b66703497daa19211eedff47f25384cdc3"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
WBTC = "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599"
BOT = "0x00000000000000000000000000000000000000b0"
BORROWER = "0x00000000000000000000000000000000000000a1"
TX = "0x" + "11" * 32


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


def _word(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def _log(address: str, signature: str, indexed: list[str], types: list[str], values: list[Any]):
    return {
        "address": address,
        "topics": [_topic(signature), *(_word(a) for a in indexed)],
        "data": "0x" + encode(types, values).hex(),
    }


def _absorb_and_buy() -> Block:
    """One searcher tx: absorb an account holding WETH and a little WBTC, then buy the WETH."""
    uints = ["uint256", "uint256"]
    collateral = "AbsorbCollateral(address,address,address,uint256,uint256)"
    logs = [
        _log(COMET, collateral, [BOT, BORROWER, WBTC], uints, [10**6, 600 * 10**8]),
        _log(COMET, collateral, [BOT, BORROWER, WETH], uints, [5 * 10**18, 15_000 * 10**8]),
        _log(
            COMET,
            "AbsorbDebt(address,address,uint256,uint256)",
            [BOT, BORROWER],
            uints,
            [14_000 * 10**6, 14_000 * 10**8],
        ),
        _log(USDC, "Transfer(address,address,uint256)", [BOT, COMET], ["uint256"], [9_000 * 10**6]),
        _log(WETH, "Transfer(address,address,uint256)", [COMET, BOT], ["uint256"], [3 * 10**18]),
        _log(
            COMET,
            "BuyCollateral(address,address,uint256,uint256)",
            [BOT, WETH],
            uints,
            [9_000 * 10**6, 3 * 10**18],
        ),
    ]
    receipt = Receipt(TX, 0, 1, 500_000, None, COMET, logs=tuple(logs))
    return Block(1, 21_000_000, "0x" + "22" * 32, 0, None, None, 0, "abi", receipts=(receipt,))


def test_an_absorbed_account_is_a_liquidation_of_its_largest_collateral() -> None:
    block = _absorb_and_buy()
    [liquidation] = analyze_block(block).liquidations
    assert liquidation.protocol == "compound_v3"
    assert (liquidation.liquidator, liquidation.liquidated_user) == (BOT, BORROWER)
    assert (liquidation.debt_token, liquidation.debt_amount) == (USDC, 14_000 * 10**6)
    # WETH: the larger of the two collaterals by the event's USD value, though fewer units.
    assert liquidation.collateral_token == WETH
    assert liquidation.seized_amount == 5 * 10**18
    assert (liquidation.received_token, liquidation.received_amount) == (WETH, 0)
    assert liquidation.trace_address == (2,)  # the AbsorbDebt log
    [finding] = [d for d in detect_block(block) if d.kind == "liquidation"]
    assert finding.key == f"1:liquidation:21000000:{TX}:2"
    assert finding.data["seized_amount"] == 5 * 10**18


def test_buy_collateral_is_a_swap_of_base_for_collateral() -> None:
    [swap] = analyze_block(_absorb_and_buy()).swaps
    assert (swap.protocol, swap.pool) == ("compound_v3", COMET)
    assert (swap.sender, swap.recipient) == (BOT, BOT)
    assert (swap.token_in, swap.amount_in) == (USDC, 9_000 * 10**6)
    assert (swap.token_out, swap.amount_out) == (WETH, 3 * 10**18)


def test_each_absorbed_account_keeps_its_own_collateral() -> None:
    """Two accounts in one absorb: the second's collateral events start after the first's
    AbsorbDebt, and an unknown Comet names itself as the debt token."""
    other_comet = "0x00000000000000000000000000000000000000c0"
    second = "0x00000000000000000000000000000000000000a2"
    uints = ["uint256", "uint256"]
    collateral = "AbsorbCollateral(address,address,address,uint256,uint256)"
    debt = "AbsorbDebt(address,address,uint256,uint256)"
    logs = [
        _log(other_comet, collateral, [BOT, BORROWER, WETH], uints, [7, 70]),
        _log(other_comet, debt, [BOT, BORROWER], uints, [50, 50]),
        _log(other_comet, collateral, [BOT, second, WBTC], uints, [3, 30]),
        _log(other_comet, debt, [BOT, second], uints, [20, 20]),
    ]
    receipt = Receipt(TX, 0, 1, 500_000, None, other_comet, logs=tuple(logs))
    block = Block(1, 1, None, 0, None, None, 0, "abi", receipts=(receipt,))
    first, then = analyze_block(block).liquidations
    assert (first.liquidated_user, first.collateral_token, first.seized_amount) == (
        BORROWER,
        WETH,
        7,
    )
    assert (then.liquidated_user, then.collateral_token, then.seized_amount) == (second, WBTC, 3)
    assert first.debt_token == then.debt_token == other_comet
    assert _topic(debt) == comet.ABSORB_DEBT
