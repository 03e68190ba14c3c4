"""Counting taps: Prometheus counters and the run summary's ``(stage, n)`` items, once per batch."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from operators.metrics import (
    DEAD_LETTERS,
    DETECTIONS,
    END_TO_END_SECONDS,
    STAGE_ITEMS,
    reason_class,
)
from operators.records import DeadLetter, Detection, Inclusion

# First-seen → output times above this are replays of history, not latencies.
MAX_LATENCY_S = 3600.0


@operator
def count(
    step_id: str,
    up: Stream[Any],
    stage: str,
    latency: tuple[str, Callable[[Any], int]] | None = None,
) -> Stream[tuple[str, int]]:
    """Counts a stream per batch: Prometheus ``scorpius_stage_items`` and ``(stage, n)`` items.

    With ``latency=(output, first_seen_ms)`` it also observes first-seen → here in
    ``scorpius_end_to_end_seconds{output}``, skipping times no live item could have (a replay of
    history without ``replay_rebase``)."""
    counter = STAGE_ITEMS.labels(stage, "ok")
    histogram = END_TO_END_SECONDS.labels(latency[0]) if latency else None
    first_seen = latency[1] if latency else None

    def tally(batch: list[Any]) -> list[tuple[str, int]]:
        counter.inc(len(batch))
        if histogram is not None and first_seen is not None:
            now = time.time()
            for item in batch:
                seconds = now - first_seen(item) / 1000.0
                if 0.0 <= seconds <= MAX_LATENCY_S:
                    histogram.observe(seconds)
        return [(stage, len(batch))]

    return op.flat_map_batch("tally", up, tally)


@operator
def count_detections(step_id: str, detections: Stream[Detection]) -> Stream[tuple[str, int]]:
    def tally(batch: list[Detection]) -> list[tuple[str, int]]:
        for d in batch:
            DETECTIONS.labels(d.kind, str(d.chain_id)).inc()
        STAGE_ITEMS.labels("detect", "ok").inc(len(batch))
        return [("detected", len(batch))]

    return op.flat_map_batch("tally", detections, tally)


@operator
def count_dead_letters(step_id: str, letters: Stream[DeadLetter]) -> Stream[tuple[str, int]]:
    def tally(batch: list[DeadLetter]) -> list[tuple[str, int]]:
        for letter in batch:
            DEAD_LETTERS.labels(letter.stage, reason_class(letter.reason)).inc()
            STAGE_ITEMS.labels(letter.stage, "dead_letter").inc()
        return [("dead_lettered", len(batch))]

    return op.flat_map_batch("tally", letters, tally)


@operator
def count_inclusions(step_id: str, inclusions: Stream[Inclusion]) -> Stream[tuple[str, int]]:
    """``inclusions`` and, apart, ``inclusions_included`` / ``_reorged`` / ``_expired``."""

    def tally(batch: list[Inclusion]) -> list[tuple[str, int]]:
        STAGE_ITEMS.labels("inclusions", "ok").inc(len(batch))
        by_status = Counter(f"inclusions_{record.status}" for record in batch)
        return [("inclusions", len(batch)), *by_status.items()]

    return op.flat_map_batch("tally", inclusions, tally)
