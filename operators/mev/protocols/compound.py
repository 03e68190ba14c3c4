"""Compound V2 liquidations (``liquidateBorrow`` on a cToken, ``seize`` on the collateral cToken).

``fork_specs`` builds the same specs for any Compound fork from its market list (cToken ->
underlying, data/<fork>_markets.json) and its ETH market, which takes the repayment as call value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from operators.mev.model import ETH, Frame, Liquidation, Transfer
from operators.mev.protocols.spec import CallSpec, first_from, first_to, load_json, spec


def _liquidation(
    protocol: str,
    ether_market: str,
    markets: Mapping[str, str],
    frame: Frame,
    children: Sequence[Frame],
    transfers: Sequence[Transfer],
) -> Liquidation | None:
    trace = frame.trace
    liquidator = trace.sender or ""
    market = trace.to or ""
    collateral = frame.args["cTokenCollateral"].lower()
    if market == ether_market and trace.value:
        debt_token, debt_amount = ETH, trace.value
    else:
        debt_token, debt_amount = markets.get(market, market), frame.args.get("repayAmount", 0)
    debt = first_from(transfers, liquidator)
    if debt is not None:
        debt_token, debt_amount = debt.token, debt.amount
    received = first_to(transfers, liquidator)
    if received is not None:
        received_token, received_amount = received.token, received.amount
    else:
        # Usual case: the liquidator is paid in collateral cTokens by ``seize``, which moves
        # balances without a transfer call.
        seize = next((c for c in children if c.role == "seize" and c.protocol == protocol), None)
        if seize is None:
            return None
        received_token, received_amount = collateral, seize.args["seizeTokens"]
    return Liquidation(
        **frame.site(),
        protocol=protocol,
        liquidated_user=frame.args["borrower"].lower(),
        liquidator=liquidator,
        debt_token=debt_token,
        debt_amount=debt_amount,
        collateral_token=collateral,
        received_token=received_token,
        received_amount=received_amount,
    )


def fork_specs(protocol: str, ether_market: str, markets: Mapping[str, str]) -> list[CallSpec]:
    markets = {k.lower(): v.lower() for k, v in markets.items()}
    all_markets = [ether_market, *markets]
    parse = partial(_liquidation, protocol, ether_market, markets)
    return [
        spec(
            protocol,
            "liquidateBorrow(address borrower,address cTokenCollateral)",
            "liquidation",
            parse,
            [ether_market],
        ),
        spec(
            protocol,
            "liquidateBorrow(address borrower,uint256 repayAmount,address cTokenCollateral)",
            "liquidation",
            parse,
            markets,
        ),
        spec(
            protocol,
            "seize(address liquidator,address borrower,uint256 seizeTokens)",
            "seize",
            None,
            all_markets,
        ),
    ]


CETH = "0x4ddc2d193948926d02f9b1fe9e1daa0718270ed5"
SPECS = fork_specs("compound_v2", CETH, load_json("comp_markets.json"))
