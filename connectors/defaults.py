"""Defaults of the storage sinks' sizes and times, stated once: the sinks' signatures use them and
the settings of flows/config.py default to them (docs/settings.md shows the values). Light on
purpose: the configuration imports it without loading a storage client."""

ARCHIVE_COMPRESSION = "zstd"
ARCHIVE_ROLL_ROWS = 100_000
ARCHIVE_ROLL_BYTES = 64 * 1024 * 1024
ARCHIVE_ROLL_SECONDS = 60.0
ARCHIVE_COMPACT_SECONDS = 3_600.0
CLICKHOUSE_BATCH_ROWS = 10_000
CLICKHOUSE_FLUSH_SECONDS = 2.0
CLICKHOUSE_MAX_BUFFER_ROWS = 200_000
