"""Ending a source on request: the graceful stop of ``scorpius run`` / ``worker`` (flows/shutdown.py).

Bytewax finishes a dataflow when every source partition has ended; the operators downstream then
close their windows and every sink flushes and closes, exactly as at the end of a replay. So a
stop is a source that ends early: once ``stop`` is set, each partition raises ``StopIteration``
at its next call, after its snapshot is taken at the epoch boundary like any other, so a
recovered run resumes where this one stopped.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

X = TypeVar("X")
S = TypeVar("S")

# A partition that sleeps (paced replay, an idle Kafka partition) checks the stop this often.
STOP_POLL = timedelta(milliseconds=200)


class _StoppablePartition(StatefulSourcePartition[X, S], Generic[X, S]):
    def __init__(self, inner: StatefulSourcePartition[X, S], stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def next_batch(self) -> Any:
        if self._stop.is_set():
            raise StopIteration
        return self._inner.next_batch()

    def next_awake(self) -> datetime | None:
        awake = self._inner.next_awake()
        latest = datetime.now(UTC) + STOP_POLL
        return latest if awake is not None and awake > latest else awake

    def snapshot(self) -> S:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class StoppableSource(FixedPartitionedSource[X, S], Generic[X, S]):
    """``inner``'s partitions, each ending at its next call once ``stop`` is set."""

    def __init__(self, inner: FixedPartitionedSource[X, S], stop: threading.Event) -> None:
        self.inner = inner
        self.stop = stop

    def list_parts(self) -> list[str]:
        return self.inner.list_parts()

    def build_part(
        self, step_id: str, for_part: str, resume_state: S | None
    ) -> _StoppablePartition[X, S]:
        return _StoppablePartition(
            self.inner.build_part(step_id, for_part, resume_state), self.stop
        )
