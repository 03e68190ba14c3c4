"""Aave V1, V2 and V3 liquidations (``liquidationCall``, same signature in all three) and the
aToken ``transferOnLiquidation`` that hands the liquidator aTokens instead of the underlying."""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, Liquidation, Transfer
from operators.mev.protocols.spec import first_from, first_to, spec


def liquidation(
    frame: Frame,
    children: Sequence[Frame],
    transfers: Sequence[Transfer],
    protocol: str = "aave",
) -> Liquidation | None:
    """A ``liquidationCall``: what the caller paid and got back (also Spark's, an Aave V3 fork)."""
    liquidator = frame.trace.sender or ""
    debt = first_from(transfers, liquidator)
    received = first_to(transfers, liquidator)
    if debt is None or received is None:
        return None
    return Liquidation(
        **frame.site(),
        protocol=protocol,
        liquidated_user=frame.args["user"].lower(),
        liquidator=liquidator,
        debt_token=debt.token,
        debt_amount=debt.amount,
        collateral_token=frame.args["collateral"].lower(),
        received_token=received.token,
        received_amount=received.amount,
    )


def _a_token_transfer(frame: Frame) -> Transfer:
    args = frame.args
    return Transfer(
        frame.tx_hash,
        frame.address,
        args["from"].lower(),
        args["to"].lower(),
        frame.trace.to or "",
        args["value"],
    )


SPECS = [
    spec(
        "aave",
        "liquidationCall(address collateral,address debt,address user,uint256 debtToCover,"
        "bool receiveAToken)",
        "liquidation",
        liquidation,
    ),
    spec(
        "aave",
        "transferOnLiquidation(address from,address to,uint256 value)",
        "transfer",
        _a_token_transfer,
    ),
]
