"""The archive: a bytewax sink appending one table of records to a Delta Lake table (delta-rs).

Where: a URL. A plain folder path or ``file://...`` writes locally; ``s3://bucket/prefix`` writes
to S3 (or any S3-compatible endpoint: see ``delta_storage_options``). Each table is one Delta
table, ``<url>/<table>``, partitioned by the record's event date (``date=YYYY-MM-DD``, UTC), with
rows sorted by event time inside each file so file statistics prune well.

Batching (``connectors.batching``, shared with the ClickHouse sink): each sink partition buffers
rows and commits them when it holds ``batch_rows`` rows or ``batch_bytes`` bytes (Arrow size),
when its oldest buffered row is ``flush_seconds`` old (checked when a batch arrives and, with the
writer thread, while none does) and at EOF / close. Commits run on a writer thread, one in flight
at a time (a second commit waits for it: back-pressure, ``scorpius_sink_blocked_seconds``), so
the flow's other outputs, alerts first, never wait for the store; a snapshot keeps the rows of
the commit in flight until it is done. A commit writes one file per event date in it, so a
replay of old data makes a few large files, never a file per hour. A commit is atomic: readers see
all of its rows or none.

Idempotence and recovery (bytewax is at-least-once): every commit carries a Delta application
transaction ``(app_id, version)``: ``app_id`` is ``<run>/<table>/p<partition>`` and ``version`` the
partition's running count of rows after the commit. The per-partition state bytewax snapshots is
(run, rows committed, rows not yet committed). On start the partition reads the table's last
version for its ``app_id``; while its own count is behind it, the rows it writes may already be
in the table (a resumed run after a crash, or a rerun of the same input, which gets the same run
id), so it inserts them with a MERGE on the table's natural key (rows already there are skipped;
a MERGE inserting nothing commits nothing). Past that point it appends. So a kill and restart,
or a second ``make run`` on the same input, leaves the same rows in the archive.

Compaction: every ``compact_seconds`` partition 0 compacts the dates written since the last
compaction (``compact``), on a background thread so the flow does not wait for it. Retention,
vacuum and time travel live in ``connectors.archive_query``.

Items must be ``(key, record)`` pairs (the key picks the partition); the step
``flows.steps.archive.archive`` keys records by ``routing_key`` and writes them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from bytewax.outputs import FixedPartitionedSink

from connectors import defaults
from connectors.archive_tables import TABLES, TableSpec, event_date
from connectors.batching import BatchingPartition, BatchLimits
from connectors.retry import retry_until_done

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

COMPRESSIONS = ("gzip", "lz4", "zstd", "snappy")
# Parquet codec names as delta-rs spells them (LZ4_RAW is the non-deprecated LZ4 framing).
_CODECS: dict[str, Any] = {"gzip": "GZIP", "lz4": "LZ4_RAW", "zstd": "ZSTD", "snappy": "SNAPPY"}
# Rows converted to Arrow at a time while buffering: the byte bound needs Arrow sizes.
_CHUNK_ROWS = 2_048
PARTITION_COLUMN = "date"


def table_uri(url: str, table: str) -> str:
    """Where ``table`` of the archive at ``url`` lives (plain paths become absolute paths)."""
    if "://" in url:
        if url.startswith("file://"):
            return f"{os.path.abspath(url[len('file://') :])}/{table}"
        return f"{url.rstrip('/')}/{table}"
    return f"{os.path.abspath(url)}/{table}"


def delta_storage_options(options: dict[str, Any] | None) -> dict[str, str] | None:
    """delta-rs (object_store) options from the archive's settings.

    Accepts the fsspec/s3fs spelling the rest of Scorpius uses (``key``, ``secret``,
    ``client_kwargs.endpoint_url`` / ``region_name``) as well as object_store's own upper-case
    keys, which pass through.
    """
    if not options:
        return None
    out: dict[str, str] = {k: str(v) for k, v in options.items() if k.isupper()}
    client = options.get("client_kwargs") or {}
    names = {
        "key": "AWS_ACCESS_KEY_ID",
        "secret": "AWS_SECRET_ACCESS_KEY",
        "token": "AWS_SESSION_TOKEN",
    }
    for name, key in names.items():
        if options.get(name):
            out[key] = str(options[name])
    endpoint = client.get("endpoint_url") or options.get("endpoint_url")
    if endpoint:
        out["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            out["AWS_ALLOW_HTTP"] = "true"
    region = client.get("region_name") or options.get("region_name")
    if region:
        out["AWS_REGION"] = region
    if out:
        # S3 has no atomic rename; delta-rs then relies on S3's conditional writes
        # (If-None-Match) for the commit file, which AWS, MinIO and moto support.
        out.setdefault("AWS_S3_ALLOW_UNSAFE_RENAME", "true")
    return out or None


# uint64 losslessly, in a type Delta Lake (and every reader of it) has: Delta has no unsigned
# integers, and a nonce may reach 2**64 - 1.
UINT64_STORED = pa.decimal128(20, 0)


def _stored(kind: pa.DataType) -> pa.DataType:
    if kind == pa.uint64():
        return UINT64_STORED
    if pa.types.is_list(kind):
        return pa.list_(_stored(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_stored(f.type)) for f in kind])
    return kind


def delta_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of a table as stored: its columns plus the ``date`` partition."""
    fields = [f.with_type(_stored(f.type)) for f in spec.schema]
    return pa.schema([*fields, pa.field(PARTITION_COLUMN, pa.string())])


def table_configuration(spec: TableSpec) -> dict[str, str | None]:
    # Statistics only where they prune (time and chain): fewer bytes per commit in the log, and
    # no min/max on decimal(20,0) columns, whose statistics delta-rs clamps to int64.
    columns = [
        c for c in ("chain_id", "event_time", "block_number", "number") if c in spec.schema.names
    ]
    return {"delta.dataSkippingStatsColumns": ",".join(columns)}


def open_table(uri: str, storage_options: dict[str, str] | None) -> DeltaTable | None:
    """The Delta table at ``uri``, or None when none was written yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, storage_options=storage_options)
    except TableNotFoundError:
        return None


def compact(
    url: str,
    table: str,
    storage_options: dict[str, Any] | None = None,
    *,
    dates: Iterable[str] | None = None,
    target_bytes: int = 256 * 1024 * 1024,
) -> dict[str, Any]:
    """Rewrite the small files of ``table`` (of ``dates`` only, if given) into large ones.

    Readers keep seeing the same rows (the old files stay until ``vacuum``); delta-rs's metrics.
    """
    dt = open_table(table_uri(url, table), delta_storage_options(storage_options))
    if dt is None:
        return {}
    filters = [(PARTITION_COLUMN, "in", sorted(dates))] if dates is not None else None
    if filters is not None and not filters[0][2]:
        return {}
    result: dict[str, Any] = dt.optimize.compact(
        partition_filters=filters, target_size=target_bytes
    )
    return result


@dataclass
class ArchivePartState:
    """What a sink partition needs to resume: see the module docstring."""

    run: str
    committed_rows: int = 0
    pending: list[pa.RecordBatch] = field(default_factory=list)


class ArrowBuffer:
    """Rows sealed into Arrow batches of ``_CHUNK_ROWS`` (sized by Arrow bytes) plus a dict tail."""

    def __init__(self, schema: pa.Schema, batches: list[pa.RecordBatch]) -> None:
        self._schema = schema
        self._batches = list(batches)
        self._tail: list[dict[str, Any]] = []
        self.rows = sum(b.num_rows for b in self._batches)
        self.bytes = sum(b.nbytes for b in self._batches)

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._tail.append(row)
            if len(self._tail) >= _CHUNK_ROWS:
                self._seal()
        self.rows += len(rows)

    def batches(self) -> list[pa.RecordBatch]:
        """Everything buffered, as Arrow batches (the buffer keeps them)."""
        self._seal()
        return list(self._batches)

    def take(self) -> list[pa.RecordBatch]:
        out = self.batches()
        self._batches, self.rows, self.bytes = [], 0, 0
        return out

    def _seal(self) -> None:
        if self._tail:
            batch = pa.RecordBatch.from_pylist(self._tail, schema=self._schema)
            self._batches.append(batch)
            self.bytes += batch.nbytes
            self._tail = []


Batch = list[pa.RecordBatch]


class _ArchivePartition(BatchingPartition[dict[str, Any], Batch, ArchivePartState]):
    def __init__(
        self,
        sink: DeltaArchiveSink,
        part: str,
        state: ArchivePartState,
        clock: Callable[[], float],
    ) -> None:
        self._sink = sink
        self._spec: TableSpec = TABLES[sink.table]
        self._schema = delta_schema(self._spec)
        self._uri = table_uri(sink.url, sink.table)
        self._options = delta_storage_options(sink.storage_options)
        self._part = part
        self._app_id = f"{state.run}/{sink.table}/p{part}"
        self._state = state
        self._table: DeltaTable | None = None
        metric = f"archive:{sink.table}"
        # Rows this app id committed before (a crashed run we resume, or an earlier run of the
        # same input): until our count reaches it, writes MERGE instead of appending.
        self._seen_rows = retry_until_done(self._committed_rows, sink=metric)
        self._dates: set[str] = set()
        self._last_compact = clock()
        self._compactor: threading.Thread | None = None
        # Commits run on a writer thread so the flow (and the alert path) never waits for one;
        # the rows of the commit in flight stay in snapshots until it is done.
        super().__init__(
            name="archive",
            metric=metric,
            limits=sink.limits,
            buffer=ArrowBuffer(self._schema, state.pending),
            clock=clock,
            background=sink.background,
        )

    def _committed_rows(self) -> int:
        self._table = open_table(self._uri, self._options)
        if self._table is None:
            return 0
        return self._table.transaction_version(self._app_id) or 0

    def rows(self, values: list[Any]) -> list[dict[str, Any]]:
        spec = self._spec
        rows = []
        for record in values:
            row = spec.to_row(record)
            row[PARTITION_COLUMN] = event_date(spec.event_ms(record))
            rows.append(row)
        return rows

    def write(self, batch: Batch) -> None:
        """Commit ``batch`` as one Delta transaction (a MERGE while rows may be there already)."""
        data = pa.Table.from_batches(batch, schema=self._schema).sort_by(
            [("event_time", "ascending"), ("chain_id", "ascending")]
        )
        version = self._state.committed_rows + data.num_rows
        if self._state.committed_rows < self._seen_rows:
            self._merge(data, version)
        else:
            self._append(data, version)

    def written(self, batch: Batch, rows: int) -> None:
        self._state.committed_rows += rows
        for part in batch:
            self._dates.update(part.column(PARTITION_COLUMN).unique().to_pylist())
        self._maybe_compact()

    def flush(self) -> None:
        """Commit every buffered row now (and wait for it)."""
        self.wait_written()

    def _commit_properties(self, version: int) -> Any:
        from deltalake import CommitProperties, Transaction

        return CommitProperties(
            app_transactions=[Transaction(self._app_id, max(version, self._seen_rows))]
        )

    def _append(self, data: pa.Table, version: int) -> None:
        from deltalake import WriterProperties, write_deltalake

        sink = self._sink
        write_deltalake(
            self._table if self._table is not None else self._uri,
            data,
            mode="append",
            partition_by=[PARTITION_COLUMN],
            storage_options=self._options,
            configuration=table_configuration(self._spec),
            writer_properties=WriterProperties(compression=_CODECS[sink.compression]),
            commit_properties=self._commit_properties(version),
        )
        if self._table is None:
            self._table = open_table(self._uri, self._options)

    def _merge(self, data: pa.Table, version: int) -> None:
        """Insert only the rows not yet in the table (equal on the natural key and date)."""
        from deltalake import WriterProperties

        if self._table is None:
            self._append(data, version)
            return
        self._table.update_incremental()
        dates = ", ".join(f"'{d}'" for d in sorted(set(data.column(PARTITION_COLUMN).to_pylist())))
        same = " AND ".join(
            f'(t."{c}" IS NOT DISTINCT FROM s."{c}")' for c in self._spec.key_columns
        )
        column = f'"{PARTITION_COLUMN}"'
        predicate = f"t.{column} IN ({dates}) AND t.{column} = s.{column} AND {same}"
        result = (
            self._table.merge(
                data,
                predicate,
                source_alias="s",
                target_alias="t",
                writer_properties=WriterProperties(compression=_CODECS[self._sink.compression]),
                commit_properties=self._commit_properties(version),
            )
            .when_not_matched_insert_all()
            .execute()
        )
        log.info(
            "%s: re-wrote %d rows after a restart or rerun, %d were new",
            self._app_id,
            data.num_rows,
            result.get("num_target_rows_inserted", 0),
        )

    def _maybe_compact(self) -> None:
        sink = self._sink
        if self._part != "0" or sink.compact_seconds <= 0:
            return
        if self._clock() - self._last_compact < sink.compact_seconds:
            return
        if self._compactor is not None and self._compactor.is_alive():
            return
        dates, self._dates = self._dates, set()
        self._last_compact = self._clock()
        self._compactor = threading.Thread(
            target=self._compact, args=(dates,), name=f"compact-{sink.table}", daemon=True
        )
        self._compactor.start()

    def _compact(self, dates: set[str]) -> None:
        try:
            result = compact(
                self._sink.url, self._sink.table, self._sink.storage_options, dates=dates
            )
            log.info("%s: compacted %s: %s", self._metric, sorted(dates), result)
        except Exception:  # a failed compaction loses nothing; the next one retries
            log.exception("%s: compaction of %s failed", self._metric, sorted(dates))
            self._dates |= dates

    def snapshot(self) -> ArchivePartState:
        if self.pending_rows() > self._sink.max_state_rows:
            self.wait_written()
        with self._cond:
            in_flight = [b for batch, _ in self._sealed for b in batch]
            assert isinstance(self._buffer, ArrowBuffer)
            return ArchivePartState(
                run=self._state.run,
                committed_rows=self._state.committed_rows,
                pending=in_flight + self._buffer.batches(),
            )

    def closed(self) -> None:
        if self._compactor is not None:
            self._compactor.join()


class DeltaArchiveSink(FixedPartitionedSink[Any, ArchivePartState]):
    """Archive one table (``connectors.archive_tables.TABLES``) under ``url``.

    ``partitions`` is the number of independent writers (spread over the workers); keep it fixed
    for a recovery store's lifetime. ``run_id`` names the run in the table's application
    transactions: give the same id to reruns of the same input (they then add nothing), or leave
    it empty for a fresh id. Records arrive as ``(key, record)``: use ``archive(...)``.
    """

    def __init__(
        self,
        url: str,
        table: str,
        compression: str = defaults.ARCHIVE_COMPRESSION,
        batch_rows: int = defaults.ARCHIVE_ROLL_ROWS,
        flush_seconds: float = defaults.ARCHIVE_ROLL_SECONDS,
        partitions: int = 1,
        storage_options: dict[str, Any] | None = None,
        max_state_rows: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        *,
        batch_bytes: int = defaults.ARCHIVE_ROLL_BYTES,
        run_id: str = "",
        compact_seconds: float = defaults.ARCHIVE_COMPACT_SECONDS,
        background: bool = True,
    ) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown archive table {table!r}; one of {sorted(TABLES)}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}; one of {COMPRESSIONS}")
        if partitions < 1:
            raise ValueError("partitions must be positive")
        self.url = url
        self.table = table
        self.compression = compression
        # One commit in flight at most: a second seal waits for it (back-pressure).
        self.limits = BatchLimits(batch_rows, flush_seconds, batch_bytes, max_batches=1)
        self.partitions = partitions
        self.storage_options = storage_options
        self.max_state_rows = max_state_rows
        self.run_id = run_id
        self.compact_seconds = compact_seconds
        self.background = background
        self._clock = clock

    def list_parts(self) -> list[str]:
        return [str(i) for i in range(self.partitions)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: ArchivePartState | None
    ) -> _ArchivePartition:
        state = resume_state or ArchivePartState(run=self.run_id or _new_run_id())
        return _ArchivePartition(self, for_part, state, self._clock)


def _new_run_id() -> str:
    # Sortable by start time, unique across concurrent starts.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}{uuid.uuid4().hex[:6]}"
