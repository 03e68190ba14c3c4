"""The ClickHouse sink: every record type into its table, batched, retried, never dropped.

Batching, retries and back-pressure are ``connectors.batching``'s: a batch is sealed at
``batch_rows`` rows or when its oldest row is ``flush_seconds`` old, and the writer thread inserts
it table by table. While ClickHouse is down the writer retries with backoff
(``scorpius_sink_errors``) and the buffer fills; past ``max_buffer_rows`` ``write_batch`` blocks
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
from collections.abc import Callable
from functools import partial
from typing import Any

from bytewax.outputs import FixedPartitionedSink
from clickhouse_driver import Client
from clickhouse_driver.errors import NetworkError, ServerException, SocketTimeoutError

from connectors import defaults
from connectors.batching import BatchingPartition, BatchLimits, ListBuffer
from connectors.clickhouse.tables import table_for
from connectors.retry import Backoff
from operators.clock import now_ms
from operators.metrics import DEAD_LETTERS, SINK_ERRORS
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


Row = tuple[str, dict[str, Any]]  # (table, row)


class _ClickHousePartition(BatchingPartition[Row, list[Row], None]):
    def __init__(self, sink: ClickHouseSink) -> None:
        self._sink = sink
        self._client = Client.from_url(sink.url)
        super().__init__(
            name="ClickHouse",
            metric=METRIC,
            limits=sink.limits,
            buffer=ListBuffer[Row](),
            backoff=sink.backoff,
            retryable=retryable,
        )

    def rows(self, values: list[Any]) -> list[Row]:
        version = now_ms()
        rows = []
        for record in values:
            table = table_for(record)  # a record of no table is a wiring bug: it raises
            try:
                rows.append((table.name, table.to_row(record, version)))
            except Exception as exc:  # one record the table cannot hold must not stop the flow
                self._sink.reject(table.name, encode_json(record).decode(), exc)
        return rows

    def write(self, batch: list[Row]) -> None:
        by_table: dict[str, list[dict[str, Any]]] = {}
        for table, row in batch:
            by_table.setdefault(table, []).append(row)
        for table, rows in by_table.items():
            self._insert_or_reject(table, rows)

    def snapshot(self) -> None:
        self.wait_written()

    def closed(self) -> None:
        self._client.disconnect()

    def _insert_or_reject(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``, retrying what passes; a batch the driver cannot encode is split
        until the rows at fault are found, and those become dead letters (the rest is stored)."""
        try:
            self.retry(partial(self._insert, table, rows))
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
        if partitions < 1:
            raise ValueError("partitions must be positive")
        self.url = url
        self.limits = BatchLimits(batch_rows, flush_seconds, max_buffered_rows=max_buffer_rows)
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
            at_ms=now_ms(),
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
