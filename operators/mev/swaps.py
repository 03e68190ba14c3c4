"""Executed swaps of a block, read from classified frames and the transfers around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from operators.mev.classify import descendants, outermost_transfers, transfer_of, transfers_in
from operators.mev.model import Frame, SwapEvent, Transfer, block_position


def tx_swaps(frames: Sequence[Frame]) -> list[SwapEvent]:
    """Swaps of one transaction, in call order.

    A pool call's input may have been paid before the call (Uniswap V2 routers transfer to the
    pair, then call ``swap``), so each swap sees the token transfers made earlier in the tx.
    """
    swaps: list[SwapEvent] = []
    prior: list[tuple[Frame, Transfer]] = []
    for index, frame in enumerate(frames):
        if frame.spec is None:
            continue
        if frame.spec.role == "transfer":
            transfer = transfer_of(frame)
            if transfer is not None:
                prior.append((frame, transfer))
        elif frame.spec.role == "swap" and frame.spec.parse is not None:
            paid = [t for f, t in prior if f.happened_within(frame)]
            inside = [f for f in descendants(frames, index) if f.happened_within(frame)]
            found = frame.spec.parse(
                frame, outermost_transfers(paid), outermost_transfers(transfers_in(inside))
            )
            # A batch (a CoW settlement) is one call settling several swaps.
            swaps.extend(found if isinstance(found, list) else [] if found is None else [found])
    return swaps


def block_swaps(frames_by_tx: Mapping[str, Sequence[Frame]]) -> list[SwapEvent]:
    """All swaps of a block ordered by (tx position, trace address)."""
    swaps = (swap for frames in frames_by_tx.values() for swap in tx_swaps(frames))
    return sorted(swaps, key=block_position)
