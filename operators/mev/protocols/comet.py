"""Compound V3 (Comet): liquidations by ``absorb`` and the protocol's collateral sales by
``buyCollateral``.

A Comet liquidation has two steps, often in one searcher tx. ``absorb(absorber, accounts)``
takes each underwater account's debt and collateral onto the protocol; it moves no tokens, and
the amounts are only in its events: ``AbsorbCollateral(absorber, borrower, asset, amount, usd)``
per collateral asset, then ``AbsorbDebt(absorber, borrower, basePaidOut, usd)``. So liquidations
are read from those events on both paths (``liquidation_from_logs``), one per absorbed account,
anchored at its ``AbsorbDebt`` log index (one ``absorb`` call absorbs many accounts). The absorber
is paid nothing in collateral: ``received_amount`` is 0 and ``seized_amount`` is what the
protocol took of the account's largest collateral (by the event's USD value).

``buyCollateral(asset, minAmount, baseAmount, recipient)`` then sells that collateral at a
discount for the base token: a swap with the Comet as pool (base token in from the buyer,
collateral out to the recipient), read from the call's transfers on the trace path and from the
``BuyCollateral`` event and the transfers before it on the log path. As a swap it takes part in
the arbitrage search, which is where an absorb-and-buy searcher's profit shows.

The base token of each mainnet Comet is data (``data/comet_markets.json``); a Comet not listed
reports its own address as the debt token, the way an unknown Compound V2 market does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

from operators.mev.model import Frame, Liquidation, SwapEvent, Transfer
from operators.mev.protocols.spec import load_json, spec, swap_from_pool_transfers

PROTOCOL = "compound_v3"
BASE_TOKENS: dict[str, str] = {
    k.lower(): v.lower() for k, v in load_json("comet_markets.json").items()
}


def _topic(signature: str) -> str:
    return "0x" + keccak(signature.encode()).hex()


ABSORB_DEBT = _topic("AbsorbDebt(address,address,uint256,uint256)")
ABSORB_COLLATERAL = _topic("AbsorbCollateral(address,address,address,uint256,uint256)")
BUY_COLLATERAL = _topic("BuyCollateral(address,address,uint256,uint256)")


def _buy(frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]) -> SwapEvent | None:
    return swap_from_pool_transfers(
        frame, PROTOCOL, frame.args["recipient"].lower(), prior, children
    )


SPECS = [
    spec(
        PROTOCOL,
        "buyCollateral(address asset,uint256 minAmount,uint256 baseAmount,address recipient)",
        "swap",
        _buy,
    ),
]


def _address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def _words(log: dict[str, Any], count: int) -> list[int] | None:
    data = bytes.fromhex((log.get("data") or "0x")[2:])
    if len(data) < 32 * count:
        return None
    return [int.from_bytes(data[32 * i : 32 * i + 32], "big") for i in range(count)]


def liquidation_from_logs(
    logs: Sequence[tuple[int, dict[str, Any]]], index: int, tx_hash: str, position: int
) -> Liquidation | None:
    """The liquidation of the account absorbed by ``AbsorbDebt`` at log ``index`` of ``logs``
    (one tx's ``(log index, log)`` pairs): its debt from that event, its collateral from the
    ``AbsorbCollateral`` events the same Comet emitted for the same absorber and account since
    the previous ``AbsorbDebt`` of that Comet."""
    log = dict(logs)[index]
    topics = log["topics"]
    words = _words(log, 2)
    if len(topics) != 3 or words is None:
        return None
    comet = str(log["address"]).lower()
    absorber, borrower = _address(topics[1]), _address(topics[2])
    seized: list[tuple[int, str, int]] = []  # (usd value, asset, amount)
    for at, earlier in logs:
        if at >= index or str(earlier["address"]).lower() != comet:
            continue
        head = earlier["topics"]
        if head[0] == ABSORB_DEBT:
            seized = []  # an earlier account's absorption ended there
        elif head[0] == ABSORB_COLLATERAL and len(head) == 4:
            amounts = _words(earlier, 2)
            if amounts is not None and (_address(head[1]), _address(head[2])) == (
                absorber,
                borrower,
            ):
                seized.append((amounts[1], _address(head[3]), amounts[0]))
    if not seized:
        return None
    _, asset, amount = max(seized)
    return Liquidation(
        tx_hash=tx_hash,
        tx_position=position,
        trace_address=(index,),
        protocol=PROTOCOL,
        liquidated_user=borrower,
        liquidator=absorber,
        debt_token=BASE_TOKENS.get(comet, comet),
        debt_amount=words[0],
        collateral_token=asset,
        received_token=asset,
        received_amount=0,
        seized_amount=amount,
    )
