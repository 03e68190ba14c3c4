"""The one batching sink partition: every batch sink writes only "write this batch".

A partition turns the records bytewax hands it into rows (``rows``) and keeps them in an open
batch. The batch is sealed when it holds ``limits.rows`` rows, ``limits.bytes`` bytes (as the
buffer sizes them) or when its oldest row is ``limits.seconds`` old (checked when records arrive
and, with a writer thread, while none do). Sealed batches are written in order by one writer (a
thread, or the worker itself with ``background=False``), each retried with the one backoff
(``connectors.retry``) until it is stored; a write that cannot pass stops the flow loudly on the
worker's next call.

Nothing is dropped: when more than ``limits.max_buffered_rows`` rows wait, or
``limits.max_batches`` sealed batches, the worker is held (``scorpius_sink_blocked_seconds``)
until the writer catches up: back-pressure. ``wait_written`` is the epoch wait: it returns once
every row handed over is stored. Recovery is at-least-once, so ``write`` must be idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from bytewax.outputs import StatefulSinkPartition

from connectors.retry import Backoff, retry_until_done
from operators.metrics import SINK_BLOCKED_SECONDS, SINK_BUFFERED, SINK_WRITES

log = logging.getLogger(__name__)

R = TypeVar("R")  # one row as the buffer takes it
B = TypeVar("B")  # one sealed batch as ``write`` takes it
S = TypeVar("S")  # the partition's resume state
B_out = TypeVar("B_out", covariant=True)


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is sealed, and how much may wait before the worker is held."""

    rows: int
    seconds: float
    bytes: int | None = None
    max_buffered_rows: int | None = None  # rows waiting, the batch being written included
    max_batches: int | None = None  # sealed batches waiting, the one being written included

    def __post_init__(self) -> None:
        if self.rows < 1 or self.seconds <= 0 or (self.bytes is not None and self.bytes < 1):
            raise ValueError("batch rows, bytes and seconds must be positive")
        if self.max_buffered_rows is not None and self.max_buffered_rows < self.rows:
            raise ValueError("the buffer must hold at least one batch (max_buffer_rows >= rows)")


class Buffer(Protocol[R, B_out]):
    """The open batch: ``rows`` and ``bytes`` in it, ``add`` rows, ``take`` all as one batch."""

    rows: int
    bytes: int

    def add(self, rows: list[R]) -> None: ...

    def take(self) -> B_out: ...


class ListBuffer(Generic[R]):
    """Rows in a list (sized by count only)."""

    def __init__(self) -> None:
        self._rows: list[R] = []
        self.rows = 0
        self.bytes = 0

    def add(self, rows: list[R]) -> None:
        self._rows.extend(rows)
        self.rows += len(rows)

    def take(self) -> list[R]:
        out, self._rows, self.rows = self._rows, [], 0
        return out


class BatchingPartition(StatefulSinkPartition[Any, S], Generic[R, B, S]):
    """A sink partition that batches rows and writes each batch with retries (module docstring).

    Subclasses give ``rows`` (records to rows; may reject bad records as dead letters) and
    ``write`` (store one batch, idempotently); ``written`` and ``closed`` are optional hooks.
    """

    def __init__(
        self,
        *,
        name: str,
        metric: str,
        limits: BatchLimits,
        buffer: Buffer[R, B],
        backoff: Backoff = Backoff(),
        retryable: Callable[[Exception], bool] = lambda exc: True,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        if limits.max_buffered_rows is not None and not background:
            raise ValueError("max_buffered_rows needs a writer thread to drain the buffer")
        self._name = name
        self._metric = metric
        self._limits = limits
        self._buffer = buffer
        self._backoff = backoff
        self._retryable = retryable
        self._clock = clock
        self._cond = threading.Condition()
        self._oldest: float | None = clock() if buffer.rows else None
        self._sealed: deque[tuple[B, int]] = deque()
        self._sealed_rows = 0
        self._closing = False
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name=f"{metric}-writer", daemon=True)
            self._thread.start()

    # --- what a sink writes --------------------------------------------------------------------

    @abstractmethod
    def rows(self, values: list[Any]) -> list[R]:
        """The rows of ``values`` (runs on the worker, outside the lock)."""

    @abstractmethod
    def write(self, batch: B) -> None:
        """Store ``batch``; raising retries it (``retryable``) or stops the flow."""

    def written(self, batch: B, rows: int) -> None:
        """``batch`` is stored (called under the lock, before it leaves the pending rows)."""

    def closed(self) -> None:
        """Everything is written and the writer has stopped: release connections."""

    def retry(self, action: Callable[[], Any]) -> Any:
        """``action()``, retried with this sink's backoff while its errors are retryable."""
        return retry_until_done(
            action, sink=self._metric, backoff=self._backoff, retryable=self._retryable
        )

    # --- the worker's side ---------------------------------------------------------------------

    def write_batch(self, values: list[Any]) -> None:
        rows = self.rows(values)
        with self._cond:
            self._raise_failure()
            limit = self._limits.max_buffered_rows
            if limit is not None and self.pending_rows() + len(rows) > limit:
                self._seal()  # let the writer start on what waits rather than on its age
                self._hold(
                    lambda: self.pending_rows() > 0 and self.pending_rows() + len(rows) > limit
                )
            if rows:
                if self._oldest is None:
                    self._oldest = self._clock()
                self._buffer.add(rows)
            if self._due():
                self._seal()
            self._gauge()
        self._write_inline()

    def wait_written(self) -> None:
        """Seal the open batch and return once every row handed over is stored."""
        with self._cond:
            self._raise_failure()
            self._seal()
        self._write_inline()
        with self._cond:
            while self._sealed:
                self._cond.wait(1.0)
                self._raise_failure()

    def pending_rows(self) -> int:
        """Rows handed over and not yet stored."""
        return self._sealed_rows + self._buffer.rows

    def close(self) -> None:
        self.wait_written()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self.closed()

    def _hold(self, blocked: Callable[[], bool]) -> None:
        if not blocked():
            return
        started = time.monotonic()
        self._cond.notify_all()
        while blocked():
            self._cond.wait(1.0)
            self._raise_failure()
        SINK_BLOCKED_SECONDS.labels(sink=self._metric).inc(time.monotonic() - started)

    def _due(self) -> bool:
        buffer, limits = self._buffer, self._limits
        if not buffer.rows:
            return False
        if buffer.rows >= limits.rows or (
            limits.bytes is not None and buffer.bytes >= limits.bytes
        ):
            return True
        return self._oldest is not None and self._clock() - self._oldest >= limits.seconds

    def _seal(self) -> None:
        """Move the open batch to the writer's queue (under the lock)."""
        if not self._buffer.rows:
            return
        most = self._limits.max_batches
        if most is not None and self._thread is not None:
            self._hold(lambda: len(self._sealed) >= most)
        rows = self._buffer.rows
        if not rows:  # the writer sealed it (its age came) while the worker was held
            return
        self._sealed.append((self._buffer.take(), rows))
        self._sealed_rows += rows
        self._oldest = None
        self._cond.notify_all()

    def _gauge(self) -> None:
        SINK_BUFFERED.labels(sink=self._metric).set(self.pending_rows())

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError(f"{self._name} sink writer failed") from self._failure

    # --- the writer ----------------------------------------------------------------------------

    def _write_inline(self) -> None:
        while self._thread is None:
            with self._cond:
                if not self._sealed:
                    return
                batch, rows = self._sealed[0]
            self._write_one(batch, rows)

    def _write_one(self, batch: B, rows: int) -> None:
        self.retry(partial(self.write, batch))
        SINK_WRITES.labels(sink=self._metric).inc(rows)
        with self._cond:
            self.written(batch, rows)
            self._sealed.popleft()
            self._sealed_rows -= rows
            self._gauge()
            self._cond.notify_all()

    def _run(self) -> None:
        tick = self._limits.seconds / 4
        try:
            while True:
                with self._cond:
                    while not self._sealed:
                        if self._due():
                            self._seal()
                        elif self._closing:
                            return
                        else:
                            self._cond.wait(tick)
                    batch, rows = self._sealed[0]
                self._write_one(batch, rows)
        except BaseException as exc:  # surfaced to the worker on its next call
            log.exception("%s sink writer failed", self._name)
            with self._cond:
                self._failure = exc
                self._cond.notify_all()
