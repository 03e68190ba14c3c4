"""Uniswap V2 pairs (and every fork with the same pair interface: SushiSwap, ...) and V3 pools.

The pool functions are matched on any contract: forks deploy thousands of pairs and the
``swap`` selectors are distinctive. Forks are reported as ``uniswap_v2`` (a trace does not say
which factory deployed a pair).
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec, swap_from_pool_transfers

# Routers swap on behalf of users: a swap paying out to a router is never a searcher's frontrun.
ROUTERS = frozenset(
    {
        "0x7a250d5630b4cf539739df2c5dacb4c659f2488d",  # Uniswap V2 Router02
        "0xe592427a0aece92de3edee1f18e0157c05861564",  # Uniswap V3 SwapRouter
        "0x68b3465833fb72a70ecdf485e0e4c7bd8665fc45",  # Uniswap V3 SwapRouter02
    }
)


def _v2_swap(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    recipient = frame.args["to"].lower()
    return swap_from_pool_transfers(frame, "uniswap_v2", recipient, prior, children)


def _v3_swap(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    recipient = frame.args["recipient"].lower()
    return swap_from_pool_transfers(frame, "uniswap_v3", recipient, prior, children)


SPECS = [
    spec(
        "uniswap_v2",
        "swap(uint256 amount0Out,uint256 amount1Out,address to,bytes data)",
        "swap",
        _v2_swap,
    ),
    spec(
        "uniswap_v3",
        "swap(address recipient,bool zeroForOne,int256 amountSpecified,"
        "uint160 sqrtPriceLimitX96,bytes data)",
        "swap",
        _v3_swap,
    ),
]
