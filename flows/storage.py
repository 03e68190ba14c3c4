"""The storage sinks and replay sources built from the typed config (what the flow wires in)."""

from __future__ import annotations

from connectors.archive_query import Filters
from connectors.archive_replay import ArchiveReplaySource
from connectors.clickhouse.sink import ClickHouseSink
from connectors.parquet_archive import ParquetArchiveSink
from flows.config import Config


def archive_sink(config: Config, table: str, partitions: int = 1) -> ParquetArchiveSink:
    """The Parquet archive sink of one table (``connectors.archive_tables.TABLES``)."""
    return ParquetArchiveSink(
        config.output.archive,
        table,
        compression=config.output.archive_compression,
        roll_rows=config.output.archive_roll_rows,
        roll_seconds=config.output.archive_roll_seconds,
        partitions=partitions,
        storage_options=config.storage.archive_storage_options(),
    )


def clickhouse_sink(config: Config, partitions: int = 1) -> ClickHouseSink | None:
    """The ClickHouse sink, or None when no ClickHouse URL is configured."""
    storage = config.storage
    if not storage.clickhouse_url:
        return None
    return ClickHouseSink(
        storage.clickhouse_client_url(),
        batch_rows=storage.clickhouse_batch_rows,
        flush_seconds=storage.clickhouse_flush_seconds,
        max_buffer_rows=storage.clickhouse_max_buffer_rows,
        partitions=partitions,
    )


def archive_replay_source(
    config: Config, filters: Filters = Filters(), progress: bool = True
) -> ArchiveReplaySource:
    """Archived ``Tx`` records (already normalized: feed them to enrich, not normalize)."""
    return ArchiveReplaySource(
        config.output.archive,
        filters,
        storage_options=config.storage.archive_storage_options(),
        progress=progress,
    )
