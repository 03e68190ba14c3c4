"""Replay of recorded items (JSON lines, optionally gzipped) as a partitioned bytewax source.

Each line is ``{"kind", "chain_id", "source", "seen_ms", "payload"}``; ``payload`` is kept as the
raw JSON bytes it was recorded as (msgspec.Raw), so replay hands the normalizer exactly what a live
source would. Partition ``p`` of ``n`` takes lines ``i % n == p``, so several workers share one file
while each keeps the recorded order of its share. A speed factor re-creates recorded spacing.

``rebase`` turns a replay into a live rehearsal: each item's ``seen_ms`` becomes the wall time the
replay hands it on (recorded offsets from the partition's first item divided by ``speed``; at speed
0, the moment it is read), so first-seen times are "now" and end-to-end latency is measurable.
Only ``seen_ms`` moves: payload fields such as block timestamps stay as recorded, and at a speed
other than 1 event-time gaps shrink or grow by the speed factor (windows see a compressed day).
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
    path: str | Path, partition: int = 0, partitions: int = 1
) -> Iterator[RawItem | DeadLetter]:
    """The recorded items of one partition, in file order; a line that is not a recorded item
    becomes a dead letter (its text kept) rather than ending the replay."""
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
            yield RawItem(rec.kind, rec.chain_id, rec.source, rec.seen_ms, bytes(rec.payload))


@dataclass
class _ReplayState:
    consumed: int  # items of this partition already emitted


class _ReplayPartition(StatefulSourcePartition[RawItem | DeadLetter, _ReplayState]):
    def __init__(
        self,
        path: Path,
        partition: int,
        partitions: int,
        speed: float,
        resume: _ReplayState | None,
        rebase: bool = False,
    ) -> None:
        self._items = read_items(path, partition, partitions)
        self._consumed = 0
        skip = resume.consumed if resume else 0
        for _ in range(skip):
            next(self._items, None)
            self._consumed += 1
        self._speed = speed
        self._pending: RawItem | DeadLetter | None = None
        # Recorded time zero and wall time zero: item t is due at wall0 + (t - rec0) / speed.
        self._rec0: int | None = None
        self._wall0 = time.monotonic()
        self._wall0_ms = time.time() * 1000.0
        self._rebase = rebase
        self._wait_until: float | None = None
        self._label = path.name

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
            if self._speed > 0 and isinstance(item, RawItem):
                if self._rec0 is None:
                    self._rec0 = item.seen_ms
                due = self._wall0 + (item.seen_ms - self._rec0) / 1000.0 / self._speed
                if due > now:
                    self._pending = item
                    self._wait_until = due
                    break
            batch.append(item)
        if self._rebase:
            batch = self._rebased(batch)
        self._consumed += len(batch)
        SOURCE_MESSAGES.labels("replay", self._label).inc(len(batch))
        return batch

    def _rebased(self, batch: list[RawItem | DeadLetter]) -> list[RawItem | DeadLetter]:
        read_ms = int(time.time() * 1000)
        out: list[RawItem | DeadLetter] = []
        for item in batch:
            if isinstance(item, RawItem):
                if self._speed > 0 and self._rec0 is not None:
                    seen = int(self._wall0_ms + (item.seen_ms - self._rec0) / self._speed)
                else:
                    seen = read_ms
                item = msgspec.structs.replace(item, seen_ms=seen)
            out.append(item)
        return out

    def next_awake(self) -> datetime | None:
        if self._wait_until is None:
            return None
        delay = max(0.0, self._wait_until - time.monotonic())
        return datetime.now(UTC) + timedelta(seconds=delay)

    def snapshot(self) -> _ReplayState:
        return _ReplayState(self._consumed)


class ReplaySource(FixedPartitionedSource[RawItem | DeadLetter, _ReplayState]):
    """Replays a recorded file; ``speed`` 0 is as fast as possible, 1.0 is recorded pace;
    ``rebase`` moves first-seen times to the replay's own clock (module docstring)."""

    def __init__(
        self, path: str | Path, speed: float = 0.0, partitions: int = 4, rebase: bool = False
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"replay file not found: {self.path}")
        self.speed = speed
        self.partitions = max(1, partitions)
        self.rebase = rebase

    def list_parts(self) -> list[str]:
        return [f"replay-{p}" for p in range(self.partitions)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: _ReplayState | None
    ) -> _ReplayPartition:
        partition = int(for_part.rsplit("-", 1)[1])
        return _ReplayPartition(
            self.path, partition, self.partitions, self.speed, resume_state, self.rebase
        )
