"""The ClickHouse sink: every record type into its table, batched, retried, never dropped.

Each sink partition has a bounded buffer and a writer thread. ``write_batch`` turns records into
rows and appends them; the writer inserts a table's rows when it holds ``batch_rows`` of them or
when the oldest is ``flush_seconds`` old. While ClickHouse is down the writer retries with
backoff (``scorpius_sink_errors``) and the buffer fills; a full buffer blocks ``write_batch``
(back-pressure: the worker stops taking input, ``scorpius_sink_blocked_seconds``) instead of
dropping anything.

Recovery: ``snapshot()`` waits until everything handed to the partition is in ClickHouse, so a
resumed flow only replays records after the snapshot. Those may reach ClickHouse twice (at-least-
once); the ReplacingMergeTree tables keep one row per natural key (after a merge, or at once with
``SELECT ... FINAL``).

Items are ``(key, record)`` pairs; the step ``flows.steps.clickhouse.write_clickhouse`` keys records
and writes them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from clickhouse_driver import Client
from clickhouse_driver.errors import NetworkError, ServerException, SocketTimeoutError

from connectors import defaults
from connectors.clickhouse.tables import TABLES, table_for
from connectors.retry import Backoff, retry_until_done
from operators.metrics import (
    DEAD_LETTERS,
    SINK_BLOCKED_SECONDS,
    SINK_BUFFERED,
    SINK_ERRORS,
    SINK_WRITES,
)
from operators.records import DeadLetter, encode_json

log = logging.getLogger(__name__)

METRIC = "clickhouse"
# What a broken or refused connection raises.
CONNECTION_ERRORS = (NetworkError, SocketTimeoutError, EOFError, ConnectionError, OSError)
# Server errors that pass: overload, a restart still loading tables, a schema not applied yet.
# clickhouse/src/Common/ErrorCodes.cpp: UNKNOWN_TABLE 60, UNKNOWN_DATABASE 81, TIMEOUT_EXCEEDED 159,
# MEMORY_LIMIT_EXCEEDED 241, TABLE_IS_READ_ONLY 242, TOO_MANY_PARTS 252, TOO_MANY_SIMULTANEOUS_QUERIES
# 202, NO_FREE_CONNECTION 203, ALL_CONNECTION_TRIES_FAILED 210.
TRANSIENT_SERVER_CODES = frozenset({60, 81, 159, 202, 203, 210, 241, 242, 252})


def retryable(exc: Exception) -> bool:
    """Worth retrying (anything else is a bug, e.g. a type mismatch, and stops the flow)."""
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    return isinstance(exc, ServerException) and exc.code in TRANSIENT_SERVER_CODES


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _ClickHousePartition(StatefulSinkPartition[Any, None]):
    def __init__(self, sink: ClickHouseSink) -> None:
        self._sink = sink
        self._client = Client.from_url(sink.url)
        self._rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
        self._count = 0
        self._oldest: float | None = None
        self._cond = threading.Condition()
        self._drain = False
        self._closing = False
        self._failure: BaseException | None = None
        self._writer = threading.Thread(target=self._run, name="clickhouse-sink", daemon=True)
        self._writer.start()

    # --- the worker's side ---------------------------------------------------------------------

    def write_batch(self, values: list[Any]) -> None:
        version = _now_ms()
        rows = []
        for record in values:
            table = table_for(record)  # a record of no table is a wiring bug: it raises
            try:
                rows.append((table.name, table.to_row(record, version)))
            except Exception as exc:  # one record the table cannot hold must not stop the flow
                self._sink.reject(table.name, encode_json(record).decode(), exc)
        with self._cond:
            self._raise_failure()
            if self._count and self._count + len(rows) > self._sink.max_buffer_rows:
                started = time.monotonic()
                self._cond.notify_all()
                while self._count and self._count + len(rows) > self._sink.max_buffer_rows:
                    self._cond.wait(1.0)
                    self._raise_failure()
                SINK_BLOCKED_SECONDS.labels(sink=METRIC).inc(time.monotonic() - started)
            for name, row in rows:
                self._rows[name].append(row)
            if rows and self._oldest is None:
                self._oldest = time.monotonic()
            self._count += len(rows)
            SINK_BUFFERED.labels(sink=METRIC).set(self._count)
            if self._count >= self._sink.batch_rows:
                self._cond.notify_all()

    def snapshot(self) -> None:
        self._wait_empty()

    def close(self) -> None:
        self._wait_empty()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        self._client.disconnect()

    def _wait_empty(self) -> None:
        with self._cond:
            self._drain = True
            self._cond.notify_all()
            while self._count:
                self._cond.wait(1.0)
                self._raise_failure()
            self._drain = False

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError("ClickHouse sink writer failed") from self._failure

    # --- the writer thread ---------------------------------------------------------------------

    def _due(self) -> bool:
        if not self._count:
            return False
        if self._drain or self._count >= self._sink.batch_rows:
            return True
        return (
            self._oldest is not None and time.monotonic() - self._oldest >= self._sink.flush_seconds
        )

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._due() and not self._closing:
                        self._cond.wait(self._sink.flush_seconds / 4)
                    if self._closing and not self._count:
                        return
                    batches = {
                        name: rows[: self._sink.batch_rows]
                        for name, rows in self._rows.items()
                        if rows
                    }
                for name, batch in batches.items():
                    self._insert_or_reject(name, batch)
                    SINK_WRITES.labels(sink=METRIC).inc(len(batch))
                    with self._cond:
                        del self._rows[name][: len(batch)]
                        self._count -= len(batch)
                        if not self._count:
                            self._oldest = None
                        SINK_BUFFERED.labels(sink=METRIC).set(self._count)
                        self._cond.notify_all()
        except BaseException as exc:  # surfaced to the worker on its next call
            log.exception("ClickHouse sink writer failed")
            with self._cond:
                self._failure = exc
                self._cond.notify_all()

    def _insert_or_reject(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``, retrying what passes; a batch the driver cannot encode is split
        until the rows at fault are found, and those become dead letters (the rest is stored)."""
        try:
            retry_until_done(
                partial(self._insert, table, rows),
                sink=METRIC,
                backoff=self._sink.backoff,
                retryable=retryable,
            )
        except ServerException:
            raise  # the server refused the batch itself (a wrong schema): stop, loudly
        except Exception as exc:  # the driver could not encode a value of some row
            if len(rows) == 1:
                self._sink.reject(table, json.dumps(rows[0], default=str), exc)
                return
            half = len(rows) // 2
            self._insert_or_reject(table, rows[:half])
            self._insert_or_reject(table, rows[half:])

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        # Columnar inserts skip the driver's per-row transposition: about twice as fast.
        data = [[row[c] for row in rows] for c in columns]
        try:
            self._client.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES", data, columnar=True
            )
        except CONNECTION_ERRORS:
            self._client.disconnect()  # reconnect on the next attempt
            raise


class ClickHouseSink(FixedPartitionedSink[Any, None]):
    """Write Tx / EnrichedTx, Block, Detection, RuleMatch, Alert and DeadLetter to ClickHouse.

    ``url`` is ``clickhouse://user:password@host:9000/database`` (clickhouse-driver's form); the
    tables must exist (``scorpius clickhouse apply-schema``).
    """

    def __init__(
        self,
        url: str,
        batch_rows: int = defaults.CLICKHOUSE_BATCH_ROWS,
        flush_seconds: float = defaults.CLICKHOUSE_FLUSH_SECONDS,
        max_buffer_rows: int = defaults.CLICKHOUSE_MAX_BUFFER_ROWS,
        partitions: int = 1,
        backoff: Backoff = Backoff(),
        rejected: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        if batch_rows < 1 or flush_seconds <= 0 or max_buffer_rows < batch_rows or partitions < 1:
            raise ValueError(
                "need batch_rows >= 1, flush_seconds > 0, max_buffer_rows >= batch_rows"
            )
        self.url = url
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.max_buffer_rows = max_buffer_rows
        self.partitions = partitions
        self.backoff = backoff
        # Where records ClickHouse cannot hold go (a dead-letter file); None: the error log.
        self.rejected = rejected

    def reject(self, table: str, payload: str, exc: BaseException) -> None:
        """A record ``table`` cannot hold: a dead letter (``rejected``, else the log) and a metric."""
        letter = DeadLetter(
            stage=METRIC,
            reason=f"unwritable: {table}: {type(exc).__name__}: {exc}",
            payload=payload,
            source=METRIC,
            at_ms=_now_ms(),
        )
        DEAD_LETTERS.labels(METRIC, "unwritable").inc()
        SINK_ERRORS.labels(sink=METRIC).inc()
        if self.rejected is not None:
            self.rejected(letter)
        else:
            log.error("dead letter: %s", encode_json(letter).decode())

    def list_parts(self) -> list[str]:
        return [str(i) for i in range(self.partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ClickHousePartition:
        return _ClickHousePartition(self)
