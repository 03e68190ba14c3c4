"""Replay of recorded items (JSON lines, optionally gzipped) as a partitioned bytewax source.

Each line is ``{"kind", "chain_id", "source", "seen_ms", "payload"}``; ``payload`` is kept as the
raw JSON bytes it was recorded as (msgspec.Raw), so replay hands the normalizer exactly what a live
source would. Partition ``p`` of ``n`` takes lines ``i % n == p``, so several workers share one file
while each keeps the recorded order of its share. A speed factor re-creates recorded spacing.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, cast

import msgspec
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from operators import clock
from operators.bounds import TimeBounds, chain_id_reason
from operators.metrics import SOURCE_MESSAGES
from operators.records import DeadLetter, RawItem

BATCH = 1024


class _Line(msgspec.Struct):
    kind: str
    chain_id: int
    source: str
    seen_ms: int
    payload: msgspec.Raw


_decode_line = msgspec.json.Decoder(_Line).decode


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def read_items(
    path: str | Path, partition: int = 0, partitions: int = 1, bounds: TimeBounds = TimeBounds()
) -> Iterator[RawItem | DeadLetter]:
    """The recorded items of one partition, in file order; a line that is not a recorded item,
    or whose chain id or time is out of range (``bounds``: it would stall the pacing), becomes a
    dead letter (its text kept) rather than ending the replay."""
    path = Path(path)
    with _open(path) as fh:
        for index, line in enumerate(fh):
            if index % partitions != partition or not line.strip():
                continue
            try:
                rec = _decode_line(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                yield DeadLetter(
                    stage="replay",
                    reason=f"bad recorded line: {path.name}:{index + 1}: {exc}",
                    payload=line.decode("utf-8", "replace"),
                    source=f"replay:{path.name}",
                )
                continue
            now_ms = clock.now_ms()
            reason = chain_id_reason(rec.chain_id) or bounds.reason(
                "seen_ms", rec.chain_id, rec.seen_ms, now_ms
            )
            if reason is not None:
                yield DeadLetter(
                    stage="replay",
                    reason=f"{reason} ({path.name}:{index + 1})",
                    payload=line.decode("utf-8", "replace"),
                    source=f"replay:{path.name}",
                    at_ms=now_ms,
                )
                continue
            yield RawItem(rec.kind, rec.chain_id, rec.source, rec.seen_ms, bytes(rec.payload))


@dataclass
class _ReplayState:
    consumed: int  # items of this partition already emitted


@dataclass(frozen=True)
class Pacing:
    """How fast a replay runs. ``speed`` > 0 keeps recorded spacing (1.0 = recorded pace);
    ``rate`` > 0 instead emits that many items per second in recorded order, whatever their
    recorded times (a sample spanning years plays in seconds); neither = as fast as possible.
    ``rebase`` stamps each item with the wall time it is replayed at, as if first seen now: a live
    rehearsal whose latency figures and event-time windows behave as in production."""

    speed: float = 0.0
    rate: float = 0.0
    rebase: bool = False


class _ReplayPartition(StatefulSourcePartition[RawItem | DeadLetter, _ReplayState]):
    def __init__(
        self,
        path: Path,
        partition: int,
        partitions: int,
        pacing: Pacing,
        resume: _ReplayState | None,
        bounds: TimeBounds = TimeBounds(),
    ) -> None:
        self._items = read_items(path, partition, partitions, bounds)
        self._consumed = 0
        skip = resume.consumed if resume else 0
        for _ in range(skip):
            next(self._items, None)
            self._consumed += 1
        self._pacing = pacing
        # Each partition plays its share of the rate, so partitions stay abreast.
        self._rate = pacing.rate / partitions
        self._pending: RawItem | DeadLetter | None = None
        # Recorded time zero and wall time zero: item t is due at wall0 + (t - rec0) / speed.
        self._rec0: int | None = None
        self._wall0 = time.monotonic()
        self._started = self._consumed
        self._wait_until: float | None = None
        self._label = path.name

    def _due(self, item: RawItem, emitted: int) -> float | None:
        if self._rate > 0:
            return self._wall0 + (emitted - self._started) / self._rate
        if self._pacing.speed > 0:
            if self._rec0 is None:
                self._rec0 = item.seen_ms
            return self._wall0 + (item.seen_ms - self._rec0) / 1000.0 / self._pacing.speed
        return None

    def next_batch(self) -> list[RawItem | DeadLetter]:
        batch: list[RawItem | DeadLetter] = []
        now = time.monotonic()
        self._wait_until = None
        while len(batch) < BATCH:
            item = self._pending if self._pending is not None else next(self._items, None)
            self._pending = None
            if item is None:
                if batch:
                    break
                raise StopIteration
            if isinstance(item, RawItem):
                due = self._due(item, self._consumed + len(batch))
                if due is not None and due > now:
                    self._pending = item
                    self._wait_until = due
                    break
                if self._pacing.rebase:
                    item = msgspec.structs.replace(item, seen_ms=clock.now_ms())
            batch.append(item)
        self._consumed += len(batch)
        SOURCE_MESSAGES.labels("replay", self._label).inc(len(batch))
        return batch

    def next_awake(self) -> datetime | None:
        if self._wait_until is None:
            return None
        delay = max(0.0, self._wait_until - time.monotonic())
        return datetime.now(UTC) + timedelta(seconds=delay)

    def snapshot(self) -> _ReplayState:
        return _ReplayState(self._consumed)


class ReplaySource(FixedPartitionedSource[RawItem | DeadLetter, _ReplayState]):
    """Replays a recorded file, paced by ``pacing`` (default: as fast as possible); a line out of
    ``bounds`` is a dead letter."""

    def __init__(
        self,
        path: str | Path,
        pacing: Pacing = Pacing(),
        partitions: int = 1,
        bounds: TimeBounds = TimeBounds(),
    ) -> None:
        self.path = Path(path)
        self.bounds = bounds
        if not self.path.exists():
            raise FileNotFoundError(f"replay file not found: {self.path}")
        self.pacing = pacing
        self.partitions = max(1, partitions)

    def list_parts(self) -> list[str]:
        return [f"replay-{p}" for p in range(self.partitions)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: _ReplayState | None
    ) -> _ReplayPartition:
        partition = int(for_part.rsplit("-", 1)[1])
        return _ReplayPartition(
            self.path, partition, self.partitions, self.pacing, resume_state, self.bounds
        )
