"""``scorpius clickhouse apply-schema``: create the database and tables of schema.sql."""

from __future__ import annotations

import argparse
import logging
from urllib.parse import urlsplit

from flows.commands import CommandError
from flows.config import load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("clickhouse", help="ClickHouse analytics store")
    actions = parser.add_subparsers(dest="action", required=True)
    apply = actions.add_parser(
        "apply-schema", help="create the database and every missing table (idempotent)"
    )
    apply.add_argument(
        "--url", help="clickhouse://host:9000/db (default: SCORPIUS_STORAGE_CLICKHOUSE_URL)"
    )
    apply.set_defaults(func=run_apply_schema)


def run_apply_schema(args: argparse.Namespace) -> int:
    # clickhouse_driver: only when used
    from clickhouse_driver.errors import Error as ClickHouseError

    from connectors.clickhouse.schema import apply_schema

    url = args.url or load_config().storage.clickhouse_client_url()
    if not url:
        raise CommandError("no ClickHouse URL: pass --url or set SCORPIUS_STORAGE_CLICKHOUSE_URL")
    # The driver logs each failed connection attempt with its traceback; the one line below says it.
    logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
    try:
        tables = apply_schema(url)
    except (ClickHouseError, OSError) as exc:
        # Only the host and port: the URL may carry a password.
        where = urlsplit(url).netloc.rpartition("@")[2]
        raise CommandError(f"ClickHouse at {where}: {exc}; is the server running?") from exc
    print(f"schema applied: {', '.join(sorted(tables))}")
    return 0
