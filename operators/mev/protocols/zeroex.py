"""0x Exchange Proxy native orders: limit and RFQ order fills.

The order says which tokens trade; the taker's fill amount is an argument, the maker's side is
read from the transfer paid to the taker (or, for open orders, the transfer of the maker token).
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec

EXCHANGE_PROXY = "0xdef1c0ded9bec7f1a1670819833240f027b25eff"
ANY_TAKER = "0x0000000000000000000000000000000000000000"

_LIMIT_ORDER = (
    "(address,address,uint128,uint128,uint128,address,address,address,address,bytes32,uint64,"
    "uint256) order"
)
_RFQ_ORDER = (
    "(address,address,uint128,uint128,address,address,address,bytes32,uint64,uint256) order"
)
_SIGNATURE = "(uint8,uint8,bytes32,bytes32) signature"
# Index of the taker in each order tuple (makerToken and takerToken are 0 and 1 in both).
_TAKER_INDEX = {"limit": 6, "rfq": 5}


def _fill(
    kind: str, frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    if len(children) < 2:
        return None
    order = frame.args["order"]
    maker_token, taker_token = order[0].lower(), order[1].lower()
    taker = order[_TAKER_INDEX[kind]].lower()
    if frame.error is not None:
        maker_amount = 0
    else:
        paid = (
            next((t for t in children if t.token == maker_token), None)
            if taker == ANY_TAKER
            else next((t for t in children if t.recipient == taker), None)
        )
        if paid is None:
            return None
        maker_amount = paid.amount
    proxy = frame.trace.to or ""
    return SwapEvent(
        **frame.site(),
        protocol="0x",
        pool=proxy,
        sender=frame.trace.sender or "",
        recipient=proxy,
        token_in=taker_token,
        amount_in=frame.args["takerTokenFillAmount"],
        token_out=maker_token,
        amount_out=maker_amount,
    )


def _limit(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    return _fill("limit", frame, prior, children)


def _rfq(frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]) -> SwapEvent | None:
    return _fill("rfq", frame, prior, children)


_FILLS = [
    (f"fillLimitOrder({_LIMIT_ORDER},{_SIGNATURE},uint128 takerTokenFillAmount)", _limit),
    (f"fillOrKillLimitOrder({_LIMIT_ORDER},{_SIGNATURE},uint128 takerTokenFillAmount)", _limit),
    (
        f"_fillLimitOrder({_LIMIT_ORDER},{_SIGNATURE},uint128 takerTokenFillAmount,"
        "address taker,address sender)",
        _limit,
    ),
    (f"fillRfqOrder({_RFQ_ORDER},{_SIGNATURE},uint128 takerTokenFillAmount)", _rfq),
    (
        f"_fillRfqOrder({_RFQ_ORDER},{_SIGNATURE},uint128 takerTokenFillAmount,"
        "address taker,bool useSelfBalance,address recipient)",
        _rfq,
    ),
]
SPECS = [spec("0x", sig, "swap", parse, [EXCHANGE_PROXY]) for sig, parse in _FILLS]
