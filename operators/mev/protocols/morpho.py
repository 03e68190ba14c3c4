"""Morpho Blue liquidations: ``liquidate(marketParams, borrower, seizedAssets, repaidShares,
data)`` on the singleton Morpho contract (mainnet 0xbbbb...effcb; matched on any contract, as
forks and other chains deploy the same code elsewhere).

Morpho pays the seized collateral to the caller first, then pulls the repaid loan tokens from it
with ``transferFrom`` (after an optional callback), so the liquidator is the caller, the debt is
what the caller paid and the received amount is what it got, the way Aave's are read. Blocks without traces are read from the ``Liquidate`` event
(``liquidation_from_logs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

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
        **frame.site(),
        protocol="morpho_blue",
        liquidated_user=frame.args["borrower"].lower(),
        liquidator=liquidator,
        debt_token=loan_token,
        debt_amount=debt.amount,
        collateral_token=collateral_token,
        received_token=received.token,
        received_amount=received.amount,
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


LIQUIDATE = (
    "0x"
    + keccak(b"Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)").hex()
)
_TRANSFER = "0x" + keccak(b"Transfer(address,address,uint256)").hex()


def _topic_address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def _token_moved(
    logs: Sequence[tuple[int, dict[str, Any]]], after: int, sender: str, recipient: str, amount: int
) -> str | None:
    """The token of the first ``Transfer`` after log ``after`` moving ``amount`` from ``sender``
    to ``recipient``."""
    for index, log in logs:
        topics = log["topics"]
        if index <= after or len(topics) != 3 or topics[0] != _TRANSFER:
            continue
        if (_topic_address(topics[1]), _topic_address(topics[2])) != (sender, recipient):
            continue
        if int((log.get("data") or "0x")[2:66] or "0", 16) == amount:
            return str(log["address"]).lower()
    return None


def liquidation_from_logs(
    logs: Sequence[tuple[int, dict[str, Any]]], index: int, tx_hash: str, position: int
) -> Liquidation | None:
    """A liquidation from Morpho's ``Liquidate`` event (log ``index`` of ``logs``, one tx's
    ``(log index, log)`` pairs). The event names the market by id only: the loan and collateral
    tokens are those of the transfers Morpho makes right after it (seized collateral to the
    caller, repaid loan from the caller)."""
    log = dict(logs)[index]
    topics = log["topics"]
    data = bytes.fromhex((log.get("data") or "0x")[2:])
    if topics[0] != LIQUIDATE or len(topics) != 4 or len(data) < 160:
        return None
    morpho = str(log["address"]).lower()
    caller, borrower = _topic_address(topics[2]), _topic_address(topics[3])
    repaid = int.from_bytes(data[0:32], "big")
    seized = int.from_bytes(data[64:96], "big")
    collateral = _token_moved(logs, index, morpho, caller, seized)
    loan = _token_moved(logs, index, caller, morpho, repaid)
    if collateral is None or loan is None:
        return None
    return Liquidation(
        tx_hash=tx_hash,
        tx_position=position,
        trace_address=(index,),
        protocol="morpho_blue",
        liquidated_user=borrower,
        liquidator=caller,
        debt_token=loan,
        debt_amount=repaid,
        collateral_token=collateral,
        received_token=collateral,
        received_amount=seized,
    )
