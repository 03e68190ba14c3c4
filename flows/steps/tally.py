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

Summary = tuple[str, int]  # (summary count name, n) for the run summary

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


def _tally_detections(batch: list[Detection]) -> list[Summary]:
    # One labels() lookup and one inc() per label set in the batch, not per item: the lookup
    # costs more than the count.
    by_labels = Counter((d.kind, str(d.chain_id)) for d in batch)
    for labels, n in by_labels.items():
        DETECTIONS.labels(*labels).inc(n)
    STAGE_ITEMS.labels("detect", "ok").inc(len(batch))
    return [("detected", len(batch))]


def _tally_dead_letters(batch: list[DeadLetter]) -> list[Summary]:
    by_labels = Counter((letter.stage, reason_class(letter.reason)) for letter in batch)
    by_stage: Counter[str] = Counter()
    for (stage, reason), n in by_labels.items():
        DEAD_LETTERS.labels(stage, reason).inc(n)
        by_stage[stage] += n
    for stage, n in by_stage.items():
        STAGE_ITEMS.labels(stage, "dead_letter").inc(n)
    return [("dead_lettered", len(batch))]


@operator
def count_detections(step_id: str, detections: Stream[Detection]) -> Stream[Summary]:
    return op.flat_map_batch("tally", detections, _tally_detections)


@operator
def count_dead_letters(step_id: str, letters: Stream[DeadLetter]) -> Stream[Summary]:
    return op.flat_map_batch("tally", letters, _tally_dead_letters)


@operator
def count_inclusions(step_id: str, inclusions: Stream[Inclusion]) -> Stream[tuple[str, int]]:
    """``inclusions`` and, apart, ``inclusions_included`` / ``_reorged`` / ``_expired``."""

    def tally(batch: list[Inclusion]) -> list[tuple[str, int]]:
        STAGE_ITEMS.labels("inclusions", "ok").inc(len(batch))
        by_status = Counter(f"inclusions_{record.status}" for record in batch)
        return [("inclusions", len(batch)), *by_status.items()]

    return op.flat_map_batch("tally", inclusions, tally)
