"""Lending-protocol liquidations of a block (Aave, Compound, CREAM)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from operators.mev.classify import descendants, transfers_in
from operators.mev.model import Frame, Liquidation, block_position


def tx_liquidations(frames: Sequence[Frame]) -> list[Liquidation]:
    """Successful liquidations of one tx; a liquidation call nested in another one (a proxy
    delegating to its implementation) is the same liquidation and is skipped."""
    return tx_calls(frames, "liquidation")


def tx_calls(frames: Sequence[Frame], role: str) -> list[Any]:
    """What the outermost successful calls of ``role`` in one tx parse to (liquidations, NFT
    trades): the parser gets the call, the frames it made and their transfers."""
    found: list[Any] = []
    parents: list[tuple[int, ...]] = []
    for index, frame in enumerate(frames):
        if frame.spec is None or frame.spec.role != role or frame.spec.parse is None:
            continue
        address = frame.address
        if any(len(address) > len(p) and address[: len(p)] == p for p in parents):
            continue
        if frame.error is not None:
            continue
        parents.append(address)
        children = [f for f in descendants(frames, index) if f.happened_within(frame)]
        parsed = frame.spec.parse(frame, children, transfers_in(children))
        if parsed is not None:
            found.append(parsed)
    return found


def block_liquidations(frames_by_tx: Mapping[str, Sequence[Frame]]) -> list[Liquidation]:
    found = (liq for frames in frames_by_tx.values() for liq in tx_liquidations(frames))
    return sorted(found, key=block_position)
