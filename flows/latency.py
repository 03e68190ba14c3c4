"""End-to-end latency: first-seen → an output, as ``scorpius_end_to_end_seconds{output=...}``.

When it is observed (the rule): only when first-seen times are wall-clock times of this run, i.e.
the source is live (``rpc``; ``kafka``, whose ``tx_raw`` is written by the live ingest) or a replay
with ``replay_rebase`` on. A plain replay, the archive and mempool-dumpster files carry first-seen
times of the past (years ago for the bundled sample): their "latency" would measure the age of the
recording, so nothing is observed for them. The taps sit in front of the sinks, so the figure is the
time to reach an output step (sink buffering and alert delivery come on top; the alert dispatcher
observes ``output="alert"`` when a channel accepted the alert).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flows.config import SourceConfig
from operators.metrics import END_TO_END_SECONDS

X = TypeVar("X")

LIVE_SOURCES = ("rpc", "kafka")


def latency_is_meaningful(source: SourceConfig) -> bool:
    """True when first-seen times are this run's wall clock (module docstring)."""
    return source.kind in LIVE_SOURCES or (source.kind == "replay" and source.replay_rebase)


@operator
def observe_latency(
    step_id: str, up: Stream[X], output: str, first_seen_ms: Callable[[X], int]
) -> Stream[X]:
    """Observes first-seen → now for every item of each batch (one clock read per batch) and
    passes the batch on unchanged. A first-seen ahead of our clock (skew) counts as 0."""
    histogram = END_TO_END_SECONDS.labels(output)

    def tap(batch: list[X]) -> list[X]:
        now_ms = time.time() * 1000.0
        for item in batch:
            histogram.observe(max(0.0, now_ms - first_seen_ms(item)) / 1000.0)
        return batch

    return op.flat_map_batch("observe", up, tap)


def first_seen(item: Any) -> int:
    """First-seen ms of any record that reaches an output (EnrichedTx nests its Tx)."""
    tx = getattr(item, "tx", None)
    seen: int = tx.first_seen_ms if tx is not None else item.first_seen_ms
    return seen
