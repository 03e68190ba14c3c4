"""Applying ``schema.sql``: create the database and every table that does not exist yet."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse, urlunparse

from clickhouse_driver import Client

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


def statements(sql: str) -> list[str]:
    """The statements of a schema file: ``--`` comments removed, split on ';'."""
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in body.split(";") if s.strip()]


def database_of(url: str) -> str:
    return urlparse(url).path.lstrip("/") or "default"


def apply_schema(url: str, sql: str | None = None) -> list[str]:
    """Create the URL's database and the tables of ``schema.sql`` (idempotent); their names."""
    database = database_of(url)
    # The database may not exist yet, so create it over a connection to "default".
    server = Client.from_url(urlunparse(urlparse(url)._replace(path="/default")))
    try:
        server.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    finally:
        server.disconnect()
    client = Client.from_url(url)
    try:
        for statement in statements(sql if sql is not None else SCHEMA_SQL.read_text()):
            client.execute(statement)
        rows = client.execute("SHOW TABLES")
    finally:
        client.disconnect()
    return [name for (name,) in rows]
