"""Curve StableSwap pools: ``exchange`` and ``exchange_underlying`` (data/curve_pools.json)."""

from __future__ import annotations

from collections.abc import Sequence

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import load_json, spec, swap_from_pool_transfers

POOLS: dict[str, str] = {
    address.lower(): name for address, name in load_json("curve_pools.json").items()
}


def _exchange(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    # Curve pays the caller.
    return swap_from_pool_transfers(frame, "curve", frame.trace.sender or "", prior, children)


SPECS = [
    spec("curve", f"{name}(int128 i,int128 j,uint256 dx,uint256 min_dy)", "swap", _exchange, POOLS)
    for name in ("exchange", "exchange_underlying")
]
