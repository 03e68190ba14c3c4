"""Counting taps: Prometheus counters and the run summary's ``(stage, n)`` items, once per batch."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

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

X = TypeVar("X")
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


def _per_item(summary: str, observe: Callable[[X], None]) -> Callable[[list[X]], list[Summary]]:
    """A batch tally: ``observe`` each item (its metrics), and one ``(summary, n)`` item."""

    def tally(batch: list[X]) -> list[Summary]:
        for item in batch:
            observe(item)
        return [(summary, len(batch))]

    return tally


def _observe_detection(d: Detection) -> None:
    DETECTIONS.labels(d.kind, str(d.chain_id)).inc()
    STAGE_ITEMS.labels("detect", "ok").inc()


def _observe_dead_letter(letter: DeadLetter) -> None:
    DEAD_LETTERS.labels(letter.stage, reason_class(letter.reason)).inc()
    STAGE_ITEMS.labels(letter.stage, "dead_letter").inc()


@operator
def count_detections(step_id: str, detections: Stream[Detection]) -> Stream[Summary]:
    return op.flat_map_batch("tally", detections, _per_item("detected", _observe_detection))


@operator
def count_dead_letters(step_id: str, letters: Stream[DeadLetter]) -> Stream[Summary]:
    return op.flat_map_batch("tally", letters, _per_item("dead_lettered", _observe_dead_letter))


@operator
def count_inclusions(step_id: str, inclusions: Stream[Inclusion]) -> Stream[tuple[str, int]]:
    """``inclusions`` and, apart, ``inclusions_included`` / ``_reorged`` / ``_expired``."""

    def tally(batch: list[Inclusion]) -> list[tuple[str, int]]:
        STAGE_ITEMS.labels("inclusions", "ok").inc(len(batch))
        by_status = Counter(f"inclusions_{record.status}" for record in batch)
        return [("inclusions", len(batch)), *by_status.items()]

    return op.flat_map_batch("tally", inclusions, tally)
