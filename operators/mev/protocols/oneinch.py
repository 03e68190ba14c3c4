"""1inch Limit Order Protocol v4 fills (the order book inside AggregationRouter V6, mainnet
0x1111...2a65, and any other deployment of the same code): ``fillOrder``, ``fillOrderArgs``,
``fillContractOrder`` and ``fillContractOrderArgs``.

A fill moves the maker's tokens to the taker and the taker's to the maker (or the order's
receiver) with no pool in between, so it is a swap of its own (aggregators.py's rule), seen from
the taker: ``sender`` is the caller, ``token_in`` the order's taker asset it paid, ``token_out``
the maker asset and ``recipient`` whoever got it (the caller, or the target its taker traits
name). ``pool`` is the protocol's contract. The order's addresses are uint256 words (1inch's
``Address`` type: the low 160 bits). Older versions (v1 to v3, different order structs) are not
read.
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec

PROTOCOL = "1inch_limit_order"
# salt, maker, receiver, makerAsset, takerAsset, makingAmount, takingAmount, makerTraits
_ORDER = "(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256) order"
_LOW_160 = (1 << 160) - 1


def _address(word: int) -> str:
    return f"0x{word & _LOW_160:040x}"


def _fill(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    order = frame.args["order"]
    maker, receiver = _address(order[1]), _address(order[2])
    maker_asset, taker_asset = _address(order[3]), _address(order[4])
    taker = frame.trace.sender or ""
    paid_to = {maker, receiver}
    paid = next((t for t in children if t.token == taker_asset and t.recipient in paid_to), None)
    got = next((t for t in children if t.token == maker_asset and t.sender == maker), None)
    if paid is None or got is None or maker_asset == taker_asset:
        return None
    return SwapEvent(
        **frame.site(),
        protocol=PROTOCOL,
        pool=frame.trace.to or "",
        sender=taker,
        recipient=got.recipient,
        token_in=taker_asset,
        amount_in=paid.amount,
        token_out=maker_asset,
        amount_out=got.amount,
    )


SPECS = [
    spec(PROTOCOL, signature, "swap", _fill)
    for signature in (
        f"fillOrder({_ORDER},bytes32 r,bytes32 vs,uint256 amount,uint256 takerTraits)",
        f"fillOrderArgs({_ORDER},bytes32 r,bytes32 vs,uint256 amount,uint256 takerTraits,"
        "bytes args)",
        f"fillContractOrder({_ORDER},bytes signature,uint256 amount,uint256 takerTraits)",
        f"fillContractOrderArgs({_ORDER},bytes signature,uint256 amount,uint256 takerTraits,"
        "bytes args)",
    )
]
