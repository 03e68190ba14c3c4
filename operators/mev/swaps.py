"""Executed swaps of a block, read from classified frames and the transfers around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from operators.mev.classify import descendants, outermost_transfers, transfer_of, transfers_in
from operators.mev.model import Frame, SwapEvent, Transfer, block_position
from operators.mev.protocols.aggregators import router_of


def tx_swaps(frames: Sequence[Frame]) -> list[SwapEvent]:
    """Swaps of one transaction, in call order.

    A pool call's input may have been paid before the call (Uniswap V2 routers transfer to the
    pair, then call ``swap``), so each swap sees the token transfers made earlier in the tx. A
    swap made under an aggregator's call names it (``router``: the innermost one above it).
    """
    swaps: list[SwapEvent] = []
    prior: list[tuple[Frame, Transfer]] = []
    routers: list[tuple[tuple[int, ...], str]] = []  # aggregator calls so far, in call order
    for index, frame in enumerate(frames):
        router = router_of(frame)
        if router is not None:
            routers.append((frame.address, router))
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
            found = found if isinstance(found, list) else [] if found is None else [found]
            via = _innermost_above(frame.address, routers)
            if via is not None:
                found = [msgspec.structs.replace(s, router=via) for s in found]
            swaps.extend(found)
    return swaps


def _innermost_above(
    address: tuple[int, ...], calls: Sequence[tuple[tuple[int, ...], str]]
) -> str | None:
    """The name of the last call in ``calls`` (call order) that ``address`` ran under."""
    for above, name in reversed(calls):
        if len(above) < len(address) and address[: len(above)] == above:
            return name
    return None


def block_swaps(frames_by_tx: Mapping[str, Sequence[Frame]]) -> list[SwapEvent]:
    """All swaps of a block ordered by (tx position, trace address)."""
    swaps = (swap for frames in frames_by_tx.values() for swap in tx_swaps(frames))
    return sorted(swaps, key=block_position)
