"""The Time Machine's query layer: filter the Parquet archive with partition pruning, page results.

``query(url, table, filters, ...)`` reads one archive table through ``pyarrow.dataset``. The time
range and chains become expressions on the Hive partition columns (``chain``, ``date``, ``hour``),
so folders outside them are never opened; the remaining filters are pushed down to the Parquet
reader (row-group statistics) and then applied exactly.

Pages are ordered by (event time, natural key) and chained by an opaque cursor (the last row's
position), so pages stay stable while the archive grows. Copies of a row (a replay after a
recovery may archive a row twice, see ``connectors.parquet_archive``) are dropped on the natural
key.

``delete_older_than`` is the retention job: it removes whole ``date=`` folders.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from connectors.archive_tables import PARTITION_SCHEMA, TABLES, TableSpec
from connectors.parquet_archive import open_archive


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


def _dataset(url: str, table: str, storage_options: dict[str, Any] | None) -> ds.Dataset:
    fs, root = open_archive(url, storage_options)
    path = f"{root}/{table}"
    schema = pa.unify_schemas([TABLES[table].schema, PARTITION_SCHEMA])
    if not fs.exists(path):
        return ds.dataset(schema.empty_table())
    return ds.dataset(
        path,
        schema=schema,
        format="parquet",
        filesystem=fs,
        partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
    )


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise QueryError(f"time must be timezone-aware: {at.isoformat()}")
    return at.astimezone(UTC)


def _hour_bound(at: datetime, *, lower: bool) -> ds.Expression:
    """Partitions at or after (lower) / at or before (upper) the hour of ``at``."""
    day, hour = at.strftime("%Y-%m-%d"), at.hour
    field_date, field_hour = ds.field("date"), ds.field("hour")
    if lower:
        return (field_date > day) | ((field_date == day) & (field_hour >= hour))
    return (field_date < day) | ((field_date == day) & (field_hour <= hour))


def _expression(spec: TableSpec, filters: Filters) -> ds.Expression | None:
    names = set(spec.schema.names)
    parts: list[ds.Expression] = []

    def need(column: str, what: str) -> None:
        if column not in names:
            raise QueryError(f"filter '{what}' does not apply to table {spec.name}")

    if filters.start is not None:
        start = _utc(filters.start)
        parts += [
            _hour_bound(start, lower=True),
            ds.field("event_time") >= pa.scalar(start, pa.timestamp("ms", tz="UTC")),
        ]
    if filters.end is not None:
        end = _utc(filters.end)
        # The end is exclusive: the partition holding the last included millisecond.
        last = end - timedelta(milliseconds=1)
        parts += [
            _hour_bound(last, lower=False),
            ds.field("event_time") < pa.scalar(end, pa.timestamp("ms", tz="UTC")),
        ]
    if filters.chains:
        parts.append(ds.field("chain").isin(list(filters.chains)))
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
    url: str, table: str, filters: Filters, storage_options: dict[str, Any] | None = None
) -> list[str]:
    """The files a query opens after partition pruning (what ``--explain`` shows)."""
    dataset = _dataset(url, table, storage_options)
    if not isinstance(dataset, ds.FileSystemDataset):
        return []
    return sorted(f.path for f in dataset.get_fragments(filter=_expression(TABLES[table], filters)))


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
    table = dataset.to_table(filter=expression, columns=spec.schema.names)
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
) -> Page:
    """One page of ``table`` rows matching ``filters``, in event-time order, without copies."""
    if table not in TABLES:
        raise QueryError(f"unknown archive table {table!r}; one of {sorted(TABLES)}")
    if limit < 1:
        raise QueryError(f"limit must be positive, got {limit}")
    spec = TABLES[table]
    after = _decode_cursor(cursor) if cursor else None
    rows: list[dict[str, Any]] = []
    last: tuple[Any, ...] | None = None
    more = False
    dataset = _dataset(url, table, storage_options)
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


def _hour_of(path: str) -> str:
    """ "date=YYYY-MM-DD/hour=HH" of an archive file path (sorts in time order)."""
    tail = path[path.index("date=") :]
    return tail.rsplit("/", 1)[0]


def iter_rows(
    url: str,
    table: str,
    filters: Filters = Filters(),
    *,
    storage_options: dict[str, Any] | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every matching row in event-time order, one hour at a time: (hour folder, its rows).

    Memory holds one hour of the selection (all chains), not the whole archive.
    """
    spec = TABLES[table]
    dataset = _dataset(url, table, storage_options)
    if not isinstance(dataset, ds.FileSystemDataset):
        return
    expression = _expression(spec, filters)
    by_hour: dict[str, list[ds.Fragment]] = {}
    for fragment in dataset.get_fragments(filter=expression):
        by_hour.setdefault(_hour_of(fragment.path), []).append(fragment)
    for hour in sorted(by_hour):
        hour_set = ds.FileSystemDataset(
            by_hour[hour], dataset.schema, dataset.format, dataset.filesystem
        )
        rows: list[dict[str, Any]] = []
        last: tuple[Any, ...] | None = None
        for row in _sorted_rows(hour_set, spec, expression):
            position = _position(spec, row)
            if position == last:
                continue
            last = position
            if filters.min_value is None or int(row["value"]) >= filters.min_value:
                rows.append(row)
        yield hour, rows


def partitions_older_than(
    url: str,
    days: int,
    *,
    today: date | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """Every ``date=`` folder of every table older than ``days`` days before ``today`` (UTC)."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=days)
    fs, root = open_archive(url, storage_options)
    old: list[str] = []
    for folder in sorted(fs.glob(f"{root}/*/chain=*/date=*")):
        try:
            day = date.fromisoformat(folder.rsplit("date=", 1)[1])
        except ValueError:
            continue  # not an archive folder
        if day < cutoff:
            old.append(folder)
    return old


def delete_older_than(
    url: str,
    days: int,
    *,
    today: date | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """The retention job: remove what ``partitions_older_than`` lists; the removed paths."""
    old = partitions_older_than(url, days, today=today, storage_options=storage_options)
    fs, _ = open_archive(url, storage_options)
    for folder in old:
        fs.rm(folder, recursive=True)
    return old
