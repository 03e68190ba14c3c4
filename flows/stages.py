"""The boxes of the pipeline diagram as bytewax composite operators.

Each wraps pure logic from ``operators/`` and returns its good items and its dead letters as named
streams (errors are data). Counting taps feed Prometheus and the run summary once per batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import windowing as win

from flows.config import DetectConfig, EnrichConfig
from operators.enrich import DEFAULT_ENRICHER, Enricher
from operators.metrics import DEAD_LETTERS, DETECTIONS, STAGE_ITEMS, reason_class
from operators.normalize import normalize_item
from operators.records import (
    Block,
    DeadLetter,
    Detection,
    EnrichedTx,
    RawItem,
    Tx,
)
from operators.replacement import ReplacementTracker, sender_key

X = TypeVar("X")


@dataclass(frozen=True)
class Checked(Generic[X]):
    """A stage's result: what it produced, and what it could not handle."""

    oks: Stream[X]
    errs: Stream[DeadLetter]


@dataclass(frozen=True)
class Normalized:
    txs: Stream[Tx]
    blocks: Stream[Block]
    errs: Stream[DeadLetter]


def _now_ms() -> int:
    return int(time.time() * 1000)


@operator
def count(step_id: str, up: Stream[Any], stage: str) -> Stream[tuple[str, int]]:
    """Counts a stream per batch: Prometheus ``scorpius_stage_items`` and ``(stage, n)`` items."""
    counter = STAGE_ITEMS.labels(stage, "ok")

    def tally(batch: list[Any]) -> list[tuple[str, int]]:
        counter.inc(len(batch))
        return [(stage, len(batch))]

    return op.flat_map_batch("tally", up, tally)


@operator
def split_errors(step_id: str, up: Stream[X | DeadLetter]) -> Checked[X]:
    branch = op.branch("is_ok", up, lambda item: not isinstance(item, DeadLetter))
    return Checked(branch.trues, branch.falses)  # type: ignore[arg-type]


@operator
def normalize_stage(step_id: str, raw: Stream[RawItem | DeadLetter]) -> Normalized:
    """RawItem → Tx and Block; anything malformed (or already a dead letter) → errs."""

    def run(item: RawItem | DeadLetter) -> Iterable[Tx | Block | DeadLetter]:
        if isinstance(item, DeadLetter):
            return (item,)
        return normalize_item(item)

    checked = split_errors("split", op.flat_map("normalize", raw, run))
    kinds = op.branch("is_tx", checked.oks, lambda item: isinstance(item, Tx))
    return Normalized(kinds.trues, kinds.falses, checked.errs)  # type: ignore[arg-type]


@operator
def enrich_stage(step_id: str, txs: Stream[Tx], cfg: EnrichConfig) -> Stream[EnrichedTx]:
    """Decoding never fails a tx: unknown calldata is the normal case, so there is no errs stream."""
    enricher = (
        Enricher.load(cfg.labels_dir or None, cfg.abi_dir or None)
        if cfg.labels_dir or cfg.abi_dir
        else DEFAULT_ENRICHER
    )
    return op.map("enrich", txs, enricher.enrich)


@operator
def block_txs(step_id: str, blocks: Stream[Block]) -> Stream[Tx]:
    """The transactions inside mined blocks, for the archive and the rules."""
    return op.flat_map("txs", blocks, lambda block: block.txs)


def _event_time(first_seen_ms: Callable[[Any], int]) -> Callable[[Any], datetime]:
    """Event time of an item, clamped to now: a clock ahead of ours must not make good items late."""

    def get(item: Any) -> datetime:
        return datetime.fromtimestamp(min(first_seen_ms(item), _now_ms()) / 1000.0, tz=UTC)

    return get


class _ReplacementWindow(win.WindowLogic[EnrichedTx, Detection, ReplacementTracker]):
    def __init__(self, tracker: ReplacementTracker) -> None:
        self.tracker = tracker

    def on_value(self, value: EnrichedTx) -> Iterable[Detection]:
        return self.tracker.on_tx(value, _now_ms())

    def on_merge(self, original: _ReplacementWindow) -> Iterable[Detection]:  # type: ignore[override]
        self.tracker.merge(original.tracker)
        return ()

    def on_close(self) -> Iterable[Detection]:
        return ()

    def snapshot(self) -> ReplacementTracker:
        return self.tracker


@operator
def replacement_stage(
    step_id: str, etxs: Stream[EnrichedTx], cfg: DetectConfig
) -> Checked[Detection]:
    """Same (chain, sender, nonce) again with a higher fee, inside an event-time session window.

    A session per (chain, sender) stays open while the sender keeps sending within
    ``replacement_window_s``; the tracker emits the moment a replacement arrives (unordered mode),
    so the window only bounds state. Items later than the watermark become dead letters with the
    reason ``late``: the tx itself still reaches every other output.
    """
    pending = op.filter(
        "pending", etxs, lambda e: e.tx.nonce is not None and e.tx.block_number is None
    )
    keyed = op.key_on("by_sender", pending, sender_key)
    clock = win.EventClock(
        _event_time(lambda e: e.tx.first_seen_ms),
        wait_for_system_duration=timedelta(seconds=cfg.watermark_wait_s),
    )
    windower = win.SessionWindower(gap=timedelta(seconds=cfg.replacement_window_s))

    def build(resume: ReplacementTracker | None) -> _ReplacementWindow:
        return _ReplacementWindow(
            resume or ReplacementTracker(cfg.min_fee_bump, cfg.replacement_max_nonces)
        )

    out = win.window("window", keyed, clock, windower, build, ordered=False)
    detections = op.map("unkey", out.down, lambda kv: kv[1][1])

    def late_letter(kv: tuple[str, tuple[int, EnrichedTx]]) -> DeadLetter:
        etx = kv[1][1]
        return DeadLetter(
            stage="replacement",
            reason=f"late: first seen {etx.tx.first_seen_ms} is behind the window's watermark",
            payload=etx.tx.hash,
            source=etx.tx.source,
            chain_id=etx.tx.chain_id,
            at_ms=_now_ms(),
        )

    late = op.map("late", out.late, late_letter)
    return Checked(detections, late)


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
