"""Balancer: V1 pools (``BPool.swapExactAmountIn/Out``, any pool) and the V2 vault's ``swap``.

V2 keeps every pool's tokens in one vault, so tokens move to and from the vault while the swap is
reported on the pool named by the first 20 bytes of its pool id. ``batchSwap`` (multi-hop through
the vault) is not classified yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec, swap_from_pool_transfers

VAULT = "0xba12222222228d8ba445958a75a0704d566bf2c8"


def _v1_swap(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    return swap_from_pool_transfers(frame, "balancer_v1", frame.trace.sender or "", prior, children)


def _v2_swap(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    single, funds = frame.args["singleSwap"], frame.args["funds"]
    if single is None:  # undecodable userData: the call is not a swap we can read
        return None
    pool_id: bytes = single[0]
    recipient = funds[2].lower()
    pool = "0x" + pool_id[:20].hex()
    return swap_from_pool_transfers(
        frame, "balancer_v2", recipient, prior, children, pool=pool, custody=VAULT
    )


_V1 = "address tokenIn,uint256 {0},address tokenOut,uint256 {1},uint256 maxPrice"
SPECS = [
    spec(
        "balancer_v1",
        "swapExactAmountIn(" + _V1.format("tokenAmountIn", "minAmountOut") + ")",
        "swap",
        _v1_swap,
    ),
    spec(
        "balancer_v1",
        "swapExactAmountOut(" + _V1.format("maxAmountIn", "tokenAmountOut") + ")",
        "swap",
        _v1_swap,
    ),
    spec(
        "balancer_v2",
        "swap((bytes32,uint8,address,address,uint256,bytes) singleSwap,"
        "(address,bool,address,bool) funds,uint256 limit,uint256 deadline)",
        "swap",
        _v2_swap,
        [VAULT],
    ),
]
