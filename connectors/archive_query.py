"""The Time Machine's query layer: filter the Delta archive with file pruning, page results.

``query(url, table, filters, ...)`` reads one archive table (a Delta table, see
``connectors.delta_archive``) through the file list of its log. The time range and chains prune
files by the ``date`` partition and the files' min/max statistics (``event_time``, ``chain_id``)
recorded in the log, so files outside them are never opened; the remaining filters are pushed down
to the Parquet reader (row-group statistics) and then applied exactly.

Time travel: every read takes ``version`` (a Delta table version) or ``as_of`` (a UTC time) and
then sees the table exactly as it was after that commit.

Pages are ordered by (event time, natural key) and chained by an opaque cursor (the last row's
position), so pages stay stable while the archive grows. Copies of a row on the natural key are
dropped (the writer's MERGE after a restart prevents them; this keeps readers safe on tables other
writers filled).

Maintenance: ``delete_older_than`` is the retention job (a Delta DELETE of whole dates; the files go
at the next ``vacuum``), ``vacuum`` removes files no version younger than its horizon needs, and
``history`` lists commits.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds

from connectors.archive_tables import HOUR_MS, TABLES, TableSpec
from connectors.delta_archive import (
    PARTITION_COLUMN,
    delta_schema,
    delta_storage_options,
    open_table,
    table_uri,
)

if TYPE_CHECKING:
    from deltalake import DeltaTable


@dataclass(frozen=True)
class Filters:
    """What to select. Times are UTC-aware; ``start`` is inclusive, ``end`` exclusive.

    ``sender`` / ``to`` / ``selector`` / ``kind`` / ``min_value`` (wei) apply to the
    transactions table; ``kind`` also to detections.
    """

    start: datetime | None = None
    end: datetime | None = None
    chains: tuple[int, ...] = ()
    sender: str | None = None
    to: str | None = None
    selector: str | None = None
    kind: str | None = None
    min_value: int | None = None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    # Pass back as ``cursor`` for the next page; None when this page is the last.
    next_cursor: str | None


class QueryError(ValueError):
    """A filter that does not apply to the table, or a malformed cursor."""


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise QueryError(f"time must be timezone-aware: {at.isoformat()}")
    return at.astimezone(UTC)


def open_version(
    url: str,
    table: str,
    storage_options: dict[str, Any] | None = None,
    *,
    version: int | None = None,
    as_of: datetime | None = None,
) -> DeltaTable | None:
    """The archive table as of ``version`` / ``as_of`` (default: now); None if never written."""
    if table not in TABLES:
        raise QueryError(f"unknown archive table {table!r}; one of {sorted(TABLES)}")
    dt = open_table(table_uri(url, table), delta_storage_options(storage_options))
    if dt is None or (version is None and as_of is None):
        return dt
    when: int | datetime = version if version is not None else _utc(as_of)  # type: ignore[arg-type]
    try:
        dt.load_as_version(when)
    except Exception as exc:  # delta-rs raises plain DeltaError / ValueError here
        raise QueryError(f"table {table} has no version as of {when}: {exc}") from exc
    return dt


def _pruning(filters: Filters) -> str | None:
    """A SQL predicate selecting files by the date partition and min/max statistics."""
    parts: list[str] = []
    if filters.start is not None:
        start = _utc(filters.start)
        parts += [
            f"{PARTITION_COLUMN} >= '{start:%Y-%m-%d}'",
            f"event_time >= '{start.isoformat()}'",
        ]
    if filters.end is not None:
        end = _utc(filters.end)
        last = end - timedelta(milliseconds=1)
        parts += [f"{PARTITION_COLUMN} <= '{last:%Y-%m-%d}'", f"event_time < '{end.isoformat()}'"]
    if filters.chains:
        parts.append(f"chain_id IN ({', '.join(str(int(c)) for c in filters.chains)})")
    return " AND ".join(parts) or None


def _dataset(dt: DeltaTable | None, spec: TableSpec, filters: Filters) -> ds.Dataset:
    if dt is None:
        return ds.dataset(delta_schema(spec).empty_table())
    return dt.to_pyarrow_dataset(file_pruning_predicate=_pruning(filters))


def _expression(spec: TableSpec, filters: Filters) -> ds.Expression | None:
    names = set(spec.schema.names)
    parts: list[ds.Expression] = []

    def need(column: str, what: str) -> None:
        if column not in names:
            raise QueryError(f"filter '{what}' does not apply to table {spec.name}")

    if filters.start is not None:
        start = _utc(filters.start)
        parts += [
            ds.field(PARTITION_COLUMN) >= f"{start:%Y-%m-%d}",
            ds.field("event_time") >= pa.scalar(start, pa.timestamp("us", tz="UTC")),
        ]
    if filters.end is not None:
        end = _utc(filters.end)
        # The end is exclusive: the date holding the last included millisecond.
        last = end - timedelta(milliseconds=1)
        parts += [
            ds.field(PARTITION_COLUMN) <= f"{last:%Y-%m-%d}",
            ds.field("event_time") < pa.scalar(end, pa.timestamp("us", tz="UTC")),
        ]
    if filters.chains:
        parts.append(ds.field("chain_id").isin(list(filters.chains)))
    if filters.sender is not None:
        need("sender", "sender")
        parts.append(ds.field("sender") == filters.sender.lower())
    if filters.to is not None:
        need("to", "to")
        parts.append(ds.field("to") == filters.to.lower())
    if filters.selector is not None:
        need("selector", "selector")
        parts.append(ds.field("selector") == filters.selector.lower())
    if filters.kind is not None:
        need("kind", "kind")
        parts.append(ds.field("kind") == filters.kind)
    if filters.min_value is not None:
        need("value_eth", "min_value")
        # Correctly rounded division is monotonic, so this float pre-filter never drops a row
        # whose exact value qualifies; the exact check on the decimal string follows.
        parts.append(ds.field("value_eth") >= filters.min_value / 10**18)
    if not parts:
        return None
    expression = parts[0]
    for part in parts[1:]:
        expression = expression & part
    return expression


def files_to_read(
    url: str,
    table: str,
    filters: Filters,
    storage_options: dict[str, Any] | None = None,
    *,
    version: int | None = None,
    as_of: datetime | None = None,
) -> list[str]:
    """The files a query opens after file pruning (what ``--explain`` shows)."""
    dt = open_version(url, table, storage_options, version=version, as_of=as_of)
    if dt is None:
        return []
    return sorted(dt.file_uris(file_pruning_predicate=_pruning(filters)))


def _encode_cursor(position: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        return tuple(json.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (ValueError, TypeError) as exc:
        raise QueryError(f"bad cursor: {cursor!r}") from exc


def _position(spec: TableSpec, row: dict[str, Any]) -> tuple[Any, ...]:
    event_ms = int(row["event_time"].timestamp() * 1000)
    return (event_ms, *("" if row[c] is None else str(row[c]) for c in spec.key_columns))


def _sorted_rows(
    dataset: ds.Dataset, spec: TableSpec, expression: ds.Expression | None
) -> Iterator[dict[str, Any]]:
    # Back to the table's reading schema: uint64 instead of the stored decimal(20, 0).
    table = dataset.to_table(filter=expression, columns=spec.schema.names).cast(spec.schema)
    table = table.sort_by(
        [("event_time", "ascending"), *((c, "ascending") for c in spec.key_columns)]
    )
    for batch in table.to_batches():
        yield from batch.to_pylist()


def query(
    url: str,
    table: str,
    filters: Filters = Filters(),
    *,
    limit: int = 100,
    cursor: str | None = None,
    storage_options: dict[str, Any] | None = None,
    version: int | None = None,
    as_of: datetime | None = None,
) -> Page:
    """One page of ``table`` rows matching ``filters``, in event-time order, without copies.

    ``version`` / ``as_of`` read the table as it was then (time travel)."""
    if table not in TABLES:
        raise QueryError(f"unknown archive table {table!r}; one of {sorted(TABLES)}")
    if limit < 1:
        raise QueryError(f"limit must be positive, got {limit}")
    spec = TABLES[table]
    after = _decode_cursor(cursor) if cursor else None
    rows: list[dict[str, Any]] = []
    last: tuple[Any, ...] | None = None
    more = False
    dt = open_version(url, table, storage_options, version=version, as_of=as_of)
    dataset = _dataset(dt, spec, filters)
    for row in _sorted_rows(dataset, spec, _expression(spec, filters)):
        position = _position(spec, row)
        if position == last or (after is not None and position <= after):
            continue  # a copy of the previous row, or already on an earlier page
        if filters.min_value is not None and int(row["value"]) < filters.min_value:
            continue
        if len(rows) == limit:
            more = True
            break
        rows.append(row)
        last = position
    return Page(rows, _encode_cursor(last) if more and last is not None else None)


def _hour_key(hour: int) -> str:
    """ "date=YYYY-MM-DD/hour=HH" of an hour since the epoch (sorts in time order)."""
    at = datetime.fromtimestamp(hour * 3600, UTC)
    return f"date={at:%Y-%m-%d}/hour={at:%H}"


def _file_stats(dt: DeltaTable) -> pa.Table:
    """The log's add actions: path, rows, date and min/max event time of every live file."""
    return pa.table(dt.get_add_actions(flatten=True))


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _hours(dt: DeltaTable, filters: Filters) -> list[int]:
    """Hours (since the epoch) in which some file may hold a matching row, from file statistics."""
    lo_bound = None if filters.start is None else int(_utc(filters.start).timestamp() * 1000)
    hi_bound = None if filters.end is None else int(_utc(filters.end).timestamp() * 1000) - 1
    stats = _file_stats(dt)
    if not stats.num_rows:
        return []
    days = stats.column(f"partition.{PARTITION_COLUMN}").to_pylist()
    names = stats.column_names
    lows = (
        stats.column("min.event_time").to_pylist()
        if "min.event_time" in names
        else [None] * len(days)
    )
    highs = (
        stats.column("max.event_time").to_pylist()
        if "max.event_time" in names
        else [None] * len(days)
    )
    hours: set[int] = set()
    for day, low, high in zip(days, lows, highs, strict=True):
        day_ms = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)
        first = _ms(low) if low is not None else day_ms
        last = _ms(high) if high is not None else day_ms + 24 * HOUR_MS - 1
        assert first is not None and last is not None
        first = first if lo_bound is None else max(first, lo_bound)
        last = last if hi_bound is None else min(last, hi_bound)
        hours.update(range(first // HOUR_MS, last // HOUR_MS + 1))
    return sorted(hours)


def rows_to_read(
    url: str, table: str, filters: Filters, storage_options: dict[str, Any] | None = None
) -> int:
    """Rows in the files a read of ``filters`` opens (before row filters): a progress total."""
    dt = open_version(url, table, storage_options)
    if dt is None:
        return 0
    selected = {
        uri.rsplit("/", 1)[-1] for uri in dt.file_uris(file_pruning_predicate=_pruning(filters))
    }
    stats = _file_stats(dt)
    paths = stats.column("path").to_pylist()
    counts = stats.column("num_records").to_pylist()
    return sum(
        n or 0 for p, n in zip(paths, counts, strict=True) if p.rsplit("/", 1)[-1] in selected
    )


def iter_rows(
    url: str,
    table: str,
    filters: Filters = Filters(),
    *,
    storage_options: dict[str, Any] | None = None,
    version: int | None = None,
    as_of: datetime | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every matching row in event-time order, one hour at a time: (hour, its rows).

    The hour is "date=YYYY-MM-DD/hour=HH". Memory holds one hour of the selection (all chains),
    not the whole archive; files whose statistics exclude an hour are not opened for it.
    """
    spec = TABLES[table]
    dt = open_version(url, table, storage_options, version=version, as_of=as_of)
    if dt is None:
        return
    dataset = _dataset(dt, spec, filters)
    expression = _expression(spec, filters)
    for hour in _hours(dt, filters):
        begin = datetime.fromtimestamp(hour * 3600, UTC)
        in_hour = (ds.field("event_time") >= pa.scalar(begin, pa.timestamp("us", tz="UTC"))) & (
            ds.field("event_time")
            < pa.scalar(begin + timedelta(hours=1), pa.timestamp("us", tz="UTC"))
        )
        rows: list[dict[str, Any]] = []
        last: tuple[Any, ...] | None = None
        for row in _sorted_rows(
            dataset, spec, in_hour if expression is None else expression & in_hour
        ):
            position = _position(spec, row)
            if position == last:
                continue
            last = position
            if filters.min_value is None or int(row["value"]) >= filters.min_value:
                rows.append(row)
        if rows:
            yield _hour_key(hour), rows


def _cutoff(days: int, today: date | None) -> date:
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return (today or datetime.now(UTC).date()) - timedelta(days=days)


def partitions_older_than(
    url: str,
    days: int,
    *,
    today: date | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """Every ``<table>/date=...`` partition older than ``days`` days before ``today`` (UTC)."""
    cutoff = _cutoff(days, today).isoformat()
    old: list[str] = []
    for table in sorted(TABLES):
        dt = open_version(url, table, storage_options)
        if dt is None:
            continue
        dates = {p[PARTITION_COLUMN] for p in dt.partitions()}
        old += [f"{table}/{PARTITION_COLUMN}={d}" for d in sorted(dates) if d < cutoff]
    return old


def delete_older_than(
    url: str,
    days: int,
    *,
    today: date | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """The retention job: delete what ``partitions_older_than`` lists, one commit per table.

    The rows vanish from the current version at once; their files stay for time travel until
    ``vacuum`` removes them. Returns the deleted partitions."""
    old = partitions_older_than(url, days, today=today, storage_options=storage_options)
    cutoff = _cutoff(days, today).isoformat()
    for table in sorted({p.split("/", 1)[0] for p in old}):
        dt = open_version(url, table, storage_options)
        if dt is not None:
            dt.delete(f"{PARTITION_COLUMN} < '{cutoff}'")
    return old


def vacuum(
    url: str,
    retention_hours: int,
    *,
    dry_run: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Remove files that no version younger than ``retention_hours`` needs (per table).

    Time travel to versions older than that horizon stops working; the current rows never change."""
    if retention_hours < 0:
        raise ValueError(f"retention_hours must be >= 0, got {retention_hours}")
    removed: dict[str, list[str]] = {}
    for table in sorted(TABLES):
        dt = open_version(url, table, storage_options)
        if dt is not None:
            removed[table] = dt.vacuum(
                retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False
            )
    return removed


def history(
    url: str, table: str, storage_options: dict[str, Any] | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The table's commits, newest first (version, timestamp, operation, metrics)."""
    dt = open_version(url, table, storage_options)
    return [] if dt is None else dt.history(limit)
