"""Inclusion tracking as a keyed step: one ``InclusionTracker`` per chain (operators/inclusion.py)."""

from __future__ import annotations

from collections.abc import Iterable

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flows.steps.frozen_state import stateful_flat_map
from operators.inclusion import InclusionTracker, Sighting, sighting
from operators.records import Block, DeadLetter, Inclusion, RawItem, Tx


@operator
def track_inclusion(
    step_id: str,
    up: Stream[RawItem | Tx | Block | DeadLetter],
    pending_ttl_s: float = 3600.0,
    max_pending: int = 250_000,
    reorg_depth: int = 64,
) -> Stream[Inclusion]:
    """Inclusion records from deduped source items (or normalized Tx / Block records)."""

    def keyed(item: RawItem | Tx | Block | DeadLetter) -> Iterable[tuple[str, Sighting]]:
        found = sighting(item)
        return () if found is None else ((str(found.chain_id), found),)

    def step(
        tracker: InclusionTracker | None, seen: Sighting
    ) -> tuple[InclusionTracker, list[Inclusion]]:
        if tracker is None:
            tracker = InclusionTracker(
                seen.chain_id, int(pending_ttl_s * 1000), max_pending, reorg_depth
            )
        return tracker, tracker.on_sighting(seen)

    resolved = stateful_flat_map("track", op.flat_map("sighting", up, keyed), step)
    return op.key_rm("unkey", resolved)
