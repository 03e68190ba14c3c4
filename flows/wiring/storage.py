"""The storage sinks and replay sources built from the typed config (what the flow wires in)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from flows.config import Config

if TYPE_CHECKING:
    from connectors.clickhouse.sink import ClickHouseSink
    from connectors.delta_archive import DeltaArchiveSink


def _files_fingerprint(paths: list[str]) -> list[str]:
    """Path, size and modification time of every file under ``paths``: a cheap input identity."""
    out: list[str] = []
    for text in paths:
        root = Path(text)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            stat = f.stat() if f.exists() else None
            out.append(
                f"{f.resolve()}:{stat.st_size if stat else -1}:{stat.st_mtime_ns if stat else -1}"
            )
    return out


def archive_run_id(config: Config) -> str:
    """The archive's run id: the same for every run over the same recorded input, so a rerun adds
    nothing to the archive; empty (a fresh id per run) for live sources (rpc, kafka)."""
    source = config.source
    if source.kind == "replay":
        parts = ["replay", *_files_fingerprint([source.replay_path])]
    elif source.kind == "dumpster":
        parts = ["dumpster", *_files_fingerprint(list(source.dumpster_paths))]
    elif source.kind == "archive":
        url = source.archive_url or config.output.archive
        parts = ["archive", url, source.archive_start, source.archive_end]
    else:
        return ""
    return f"{source.kind}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:16]}"


def archive_sink(config: Config, table: str, partitions: int | None = None) -> DeltaArchiveSink:
    """The archive sink of one table (``connectors.archive_tables.TABLES``).

    ``partitions`` defaults to ``SCORPIUS_OUTPUT_ARCHIVE_PARTITIONS``."""
    from connectors.delta_archive import DeltaArchiveSink

    out = config.output
    return DeltaArchiveSink(
        out.archive,
        table,
        compression=out.archive_compression,
        batch_rows=out.archive_roll_rows,
        batch_bytes=out.archive_roll_bytes,
        flush_seconds=out.archive_roll_seconds,
        partitions=partitions or out.archive_partitions,
        storage_options=config.storage.archive_storage_options(),
        run_id=archive_run_id(config),
        compact_seconds=out.archive_compact_seconds,
    )


def clickhouse_sink(config: Config, partitions: int = 1) -> ClickHouseSink | None:
    """The ClickHouse sink, or None when no ClickHouse URL is configured."""
    storage = config.storage
    if not storage.clickhouse_url:
        return None
    from connectors.alerts.log import JsonlLog
    from connectors.clickhouse.sink import ClickHouseSink

    # A row ClickHouse cannot hold is a dead letter in a file of its own: the sink writes it from
    # its flush, after the flow's dead-letter file may have been truncated on resume.
    rejected = JsonlLog(Path(config.output.dir) / "sink_dead_letters.jsonl").write
    return ClickHouseSink(
        storage.clickhouse_client_url(),
        batch_rows=storage.clickhouse_batch_rows,
        flush_seconds=storage.clickhouse_flush_seconds,
        max_buffer_rows=storage.clickhouse_max_buffer_rows,
        partitions=partitions,
        rejected=rejected,
    )
