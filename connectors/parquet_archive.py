"""The Parquet archive: a bytewax sink writing one table of records as Hive-partitioned Parquet.

Where: a URL. A plain folder path or ``file://...`` writes locally; ``s3://bucket/prefix`` writes
to S3 through s3fs (any fsspec URL works). Layout::

    <url>/<table>/chain=<id>/date=YYYY-MM-DD/hour=HH/<table>-<run>-p<part>-<seq>.parquet

partitioned by the record's event time (see ``connectors.archive_tables``).

Rolling: each sink partition buffers rows in memory and writes one file per Hive folder when it
holds ``roll_rows`` rows, when its oldest buffered row is ``roll_seconds`` old (checked whenever a
batch arrives), and always at EOF / close.

Atomic: a file is built fully in memory first. Locally it is written under a dot-name in the same
folder (readers skip dot-files) and renamed into place; on S3 a single PUT (or a completed
multipart upload) is atomic, so it is written under its final name.

Idempotence and recovery (bytewax is at-least-once): the sink is a ``FixedPartitionedSink`` whose
per-partition state is (run id, next file sequence number, rows not yet written). A resumed run
therefore (1) keeps the rows that were buffered at the snapshot, so nothing is lost, and (2) names
its next files exactly as the crashed run named the files it wrote after the snapshot, so those
files are overwritten rather than duplicated. A fresh run (no recovery state) gets a new run id and
never overwrites an older run's files. When a time-based roll lands differently on the replay, a
few rows may be archived twice under different names; they are equal on the table's natural key
and ``connectors.archive_query`` drops such copies.

bytewax snapshots every epoch (with or without a recovery store). The buffered rows are part of the
state, so to keep snapshots small a snapshot first writes the buffer out when it holds more than
``max_state_rows`` rows; with a short epoch that makes files smaller than ``roll_rows``.

Items must be ``(key, record)`` pairs (the key picks the partition); ``archive(...)`` below keys
records by ``routing_key`` and writes them.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import bytewax.operators as op
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from bytewax.dataflow import Stream, operator
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from fsspec.implementations.local import LocalFileSystem

from connectors.archive_tables import TABLES, TableSpec, partition_path, routing_key
from connectors.retry import retry_until_done
from operators.metrics import DEAD_LETTERS, SINK_BUFFERED, SINK_WRITES
from operators.records import encode_json

log = logging.getLogger(__name__)

COMPRESSIONS = ("gzip", "lz4", "zstd", "snappy")


def open_archive(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem and root path of an archive URL (plain paths are local folders)."""
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return fs, root.rstrip("/")


@dataclass
class ArchivePartState:
    """What a sink partition needs to resume: see the module docstring."""

    run: str
    next_seq: int = 0
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def encode_parquet(rows: list[dict[str, Any]], schema: pa.Schema, compression: str) -> bytes:
    table = pa.Table.from_pylist(rows, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression=compression)
    return buffer.getvalue()


def write_atomically(fs: Any, path: str, data: bytes) -> None:
    """Make ``path`` appear with all of ``data`` or not at all."""
    folder, name = path.rsplit("/", 1)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(folder, exist_ok=True)
        temp = f"{folder}/.{name}.{uuid.uuid4().hex[:8]}.tmp"
        fs.pipe_file(temp, data)
        fs.mv(temp, path)
    else:
        fs.pipe_file(path, data)


class _ArchivePartition(StatefulSinkPartition[Any, ArchivePartState]):
    def __init__(
        self,
        sink: ParquetArchiveSink,
        part: str,
        state: ArchivePartState,
        clock: Callable[[], float],
    ) -> None:
        self._sink = sink
        self._spec: TableSpec = TABLES[sink.table]
        self._fs, self._root = open_archive(sink.url, sink.storage_options)
        self._part = part
        self._state = state
        self._clock = clock
        self._buffer: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for folder, rows in state.pending.items():
            self._buffer[folder].extend(rows)
        self._count = sum(len(rows) for rows in self._buffer.values())
        self._oldest = clock() if self._count else None
        self._metric = f"parquet:{sink.table}"

    def write_batch(self, values: list[Any]) -> None:
        spec = self._spec
        for record in values:
            try:
                folder = partition_path(spec.chain_id(record), spec.event_ms(record))
                row = spec.to_row(record)
            except Exception as exc:  # one record it cannot file must not stop the flow
                DEAD_LETTERS.labels(self._metric, "unwritable").inc()
                log.error(
                    "%s: unwritable record (%s: %s): %s",
                    self._metric,
                    type(exc).__name__,
                    exc,
                    encode_json(record)[:2000].decode("utf-8", "replace"),
                )
                continue
            self._buffer[folder].append(row)
        if values and self._oldest is None:
            self._oldest = self._clock()
        self._count += len(values)
        SINK_BUFFERED.labels(sink=self._metric).set(self._count)
        if self._count >= self._sink.roll_rows or (
            self._oldest is not None and self._clock() - self._oldest >= self._sink.roll_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write every buffered Hive folder as one file each."""
        for folder in sorted(self._buffer):
            rows = self._buffer[folder]
            data = encode_parquet(rows, self._spec.schema, self._sink.compression)
            name = f"{self._spec.name}-{self._state.run}-p{self._part}-{self._state.next_seq:08d}"
            path = f"{self._root}/{self._spec.name}/{folder}/{name}.parquet"
            retry_until_done(partial(write_atomically, self._fs, path, data), sink=self._metric)
            self._state.next_seq += 1
            SINK_WRITES.labels(sink=self._metric).inc(len(rows))
        self._buffer.clear()
        self._count = 0
        self._oldest = None
        SINK_BUFFERED.labels(sink=self._metric).set(0)

    def snapshot(self) -> ArchivePartState:
        if self._count > self._sink.max_state_rows:
            self.flush()
        return ArchivePartState(
            run=self._state.run,
            next_seq=self._state.next_seq,
            pending={folder: list(rows) for folder, rows in self._buffer.items() if rows},
        )

    def close(self) -> None:
        self.flush()


class ParquetArchiveSink(FixedPartitionedSink[Any, ArchivePartState]):
    """Archive one table (``connectors.archive_tables.TABLES``) under ``url``.

    ``partitions`` is the number of independent writers (spread over the workers); keep it fixed
    for a recovery store's lifetime. Records arrive as ``(key, record)``: use ``archive(...)``.
    """

    def __init__(
        self,
        url: str,
        table: str,
        compression: str = "zstd",
        roll_rows: int = 100_000,
        roll_seconds: float = 60.0,
        partitions: int = 1,
        storage_options: dict[str, Any] | None = None,
        max_state_rows: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown archive table {table!r}; one of {sorted(TABLES)}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}; one of {COMPRESSIONS}")
        if roll_rows < 1 or roll_seconds <= 0 or partitions < 1:
            raise ValueError("roll_rows, roll_seconds and partitions must be positive")
        self.url = url
        self.table = table
        self.compression = compression
        self.roll_rows = roll_rows
        self.roll_seconds = roll_seconds
        self.partitions = partitions
        self.storage_options = storage_options
        self.max_state_rows = max_state_rows
        self._clock = clock

    def list_parts(self) -> list[str]:
        return [str(i) for i in range(self.partitions)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: ArchivePartState | None
    ) -> _ArchivePartition:
        state = resume_state or ArchivePartState(run=_new_run_id())
        return _ArchivePartition(self, for_part, state, self._clock)


def _new_run_id() -> str:
    # Sortable by start time, unique across concurrent starts.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}{uuid.uuid4().hex[:6]}"


@operator
def archive(step_id: str, up: Stream[Any], sink: ParquetArchiveSink) -> None:
    """Write records of the sink's table to the archive (keyed by ``routing_key``)."""
    keyed = op.key_on("key", up, routing_key)
    op.output("write", keyed, sink)
