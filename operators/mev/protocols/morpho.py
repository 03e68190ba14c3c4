"""Morpho Blue liquidations: ``liquidate(marketParams, borrower, seizedAssets, repaidShares,
data)`` on the singleton Morpho contract (mainnet 0xbbbb...effcb; matched on any contract, as
forks and other chains deploy the same code elsewhere).

Morpho pays the seized collateral to the caller first, then pulls the repaid loan tokens from it
with ``transferFrom`` (after an optional callback), so the liquidator is the caller, the debt is
what the caller paid and the received amount is what it got, the way Aave's are read.
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, Liquidation, Transfer
from operators.mev.protocols.spec import first_from, first_to, spec

MORPHO_BLUE = "0xbbbbbbbbbb9cc5e90e3b3af64bdaf62c37eeffcb"


def _liquidation(
    frame: Frame, children: Sequence[Frame], transfers: Sequence[Transfer]
) -> Liquidation | None:
    liquidator = frame.trace.sender or ""
    morpho = frame.trace.to or ""
    loan_token, collateral_token = (a.lower() for a in frame.args["marketParams"][:2])
    paid = [t for t in transfers if t.token == loan_token and t.recipient == morpho]
    debt = first_from(paid, liquidator)
    seized = [t for t in transfers if t.token == collateral_token and t.sender == morpho]
    received = first_to(seized, liquidator)
    if debt is None or received is None:
        return None
    return Liquidation(
        tx_hash=frame.tx_hash,
        tx_position=frame.trace.tx_position or 0,
        trace_address=frame.address,
        protocol="morpho_blue",
        liquidated_user=frame.args["borrower"].lower(),
        liquidator=liquidator,
        debt_token=loan_token,
        debt_amount=debt.amount,
        collateral_token=collateral_token,
        received_token=received.token,
        received_amount=received.amount,
        error=frame.error,
    )


SPECS = [
    spec(
        "morpho_blue",
        "liquidate((address,address,address,address,uint256) marketParams,address borrower,"
        "uint256 seizedAssets,uint256 repaidShares,bytes data)",
        "liquidation",
        _liquidation,
    ),
]
