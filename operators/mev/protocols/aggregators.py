"""Aggregators' settlement paths: 1inch's AggregationRouter (V3 to V6), the 0x Exchange Proxy,
0x Settler, ParaSwap's Augustus and MetaMask's swap router.

The rule (docs/mev.md, "Aggregators"): an aggregator's call is never a swap of its own. The pool
calls it makes are the swaps (the legs), each read by its pool's spec as if called directly, and
each names the aggregator it went through in ``router``: the innermost aggregator call above it
(MetaMask's router calling 1inch's names 1inch, the path that settled). So a routed trade is
counted once, leg by leg, in the sandwich and arbitrage search. An order filled from a maker's
balance with no pool under it (a 0x native order, a 1inch limit order) is a swap of its own,
read by that protocol's spec (``zeroex``, ``oneinch``), and is also a leg of any route it sits in.

Routers at fixed addresses are data (``data/routers.json``: address -> name). 0x Settler is
deployed anew for each release (its registry hands out the address), so it is known by its entry
points instead: ``execute`` and ``executeMetaTxn`` on any contract. On the log path (no call
tree) a tx sent straight to a listed router names it on all of that tx's swaps.
"""

from __future__ import annotations

from operators.mev.model import Frame
from operators.mev.protocols.spec import load_json, spec

ROUTERS: dict[str, str] = {k.lower(): v for k, v in load_json("routers.json").items()}
SETTLER = "0x_settler"
_SLIPPAGE = "(address,address,uint256) slippage"  # (recipient, buyToken, minAmountOut)

SPECS = [
    spec(SETTLER, f"execute({_SLIPPAGE},bytes[] actions,bytes32 affiliate)", "router"),
    spec(
        SETTLER,
        f"executeMetaTxn({_SLIPPAGE},bytes[] actions,bytes32 affiliate,address msgSender,"
        "bytes sig)",
        "router",
    ),
]


def router_of(frame: Frame) -> str | None:
    """The aggregator this call enters, if it is one."""
    if frame.role == "router":
        return frame.protocol
    return ROUTERS.get(frame.trace.to or "")
