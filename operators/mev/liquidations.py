"""Lending-protocol liquidations of a block (Aave, Compound, CREAM)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from operators.mev.classify import descendants, transfers_in
from operators.mev.model import Frame, Liquidation, block_position


def tx_liquidations(frames: Sequence[Frame]) -> list[Liquidation]:
    """Successful liquidations of one tx; a liquidation call nested in another one (a proxy
    delegating to its implementation) is the same liquidation and is skipped."""
    found: list[Liquidation] = []
    parents: list[tuple[int, ...]] = []
    for index, frame in enumerate(frames):
        if frame.spec is None or frame.spec.role != "liquidation" or frame.spec.parse is None:
            continue
        address = frame.address
        if any(len(address) > len(p) and address[: len(p)] == p for p in parents):
            continue
        if frame.error is not None:
            continue
        parents.append(address)
        children = [f for f in descendants(frames, index) if f.happened_within(frame)]
        liquidation = frame.spec.parse(frame, children, transfers_in(children))
        if liquidation is not None:
            found.append(liquidation)
    return found


def block_liquidations(frames_by_tx: Mapping[str, Sequence[Frame]]) -> list[Liquidation]:
    found = (liq for frames in frames_by_tx.values() for liq in tx_liquidations(frames))
    return sorted(found, key=block_position)
