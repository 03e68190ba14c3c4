"""The two stores' tables agree: every ClickHouse table (schema.sql) has exactly the columns its
rows get from the archive's table spec (connectors/archive_tables.py) plus ClickHouse's own, and
every archive table is held by a ClickHouse table. No server: this reads the schema file."""

from __future__ import annotations

import re

from connectors import archive_tables
from connectors.clickhouse.schema import SCHEMA_SQL, statements
from connectors.clickhouse.tables import TABLES, table_for
from tests.connectors import samples

CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)\s*ENGINE", re.S)


def schema_columns() -> dict[str, set[str]]:
    tables = {}
    for statement in statements(SCHEMA_SQL.read_text()):
        match = CREATE.search(statement)
        assert match, statement
        lines = [line.strip() for line in match.group(2).split(",\n")]
        tables[match.group(1)] = {line.split()[0] for line in lines if line}
    return tables


def test_clickhouse_columns_are_the_archive_rows_plus_clickhouse_own() -> None:
    declared = schema_columns()
    records = [
        samples.make_tx(1),
        samples.make_enriched(2),
        samples.make_block(3),
        samples.make_detection(4),
        samples.make_rule_match(5),
        samples.make_alert(6),
        samples.make_dead_letter(7),
    ]
    for record in records:
        table = table_for(record)
        row = table.to_row(record, 1)
        assert set(row) == declared[table.name], table.name
        assert table.archive is archive_tables.table_for(record)
    assert {t.name for t in TABLES} == set(declared)
    assert {t.archive.name for t in TABLES} == set(archive_tables.TABLES)
