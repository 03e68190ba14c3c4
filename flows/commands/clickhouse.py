"""``scorpius clickhouse apply-schema``: create the database and tables of schema.sql."""

from __future__ import annotations

import argparse

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
    from connectors.clickhouse.schema import apply_schema  # clickhouse_driver: only when used

    url = args.url or load_config().storage.clickhouse_client_url()
    if not url:
        print("no ClickHouse URL: pass --url or set SCORPIUS_STORAGE_CLICKHOUSE_URL")
        return 2
    tables = apply_schema(url)
    print(f"schema applied: {', '.join(sorted(tables))}")
    return 0
