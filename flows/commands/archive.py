"""``scorpius query`` (the Time Machine) and ``scorpius archive retention``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import fsspec
import orjson

from connectors.archive_query import (
    Filters,
    QueryError,
    delete_older_than,
    files_to_read,
    partitions_older_than,
    query,
)
from connectors.archive_tables import TABLES
from flows.commands import CommandError
from flows.config import load_config


def _time(text: str) -> datetime:
    """ISO-8601 time; without a zone it is UTC."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _wei(text: str) -> int:
    """An amount in wei, or in ether with an "eth" suffix ("1.5eth")."""
    from decimal import Decimal, InvalidOperation

    try:
        if text.lower().endswith("eth"):
            return int(Decimal(text[:-3]) * 10**18)
        return int(text)
    except (ValueError, InvalidOperation) as exc:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from exc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = subparsers.add_parser(
        "query",
        help="query the Parquet archive (the Time Machine); prints JSON lines",
        description="Print the archived records that match every filter, one JSON line each, "
        "oldest first, at most --limit of them; the cursor for the next page goes to stderr. "
        "Exits 2 when the archive is missing; a query that matches nothing says so on stderr "
        "and exits 0. Example: scorpius query --kind swap --since 2026-05-01 --limit 5",
    )
    q.add_argument("--url", help="archive URL (default: the configured archive)")
    q.add_argument(
        "--table",
        default="transactions",
        choices=sorted(TABLES),
        help="which records (default transactions)",
    )
    q.add_argument("--since", type=_time, help="start time, inclusive (ISO-8601, UTC if no zone)")
    q.add_argument("--until", type=_time, help="end time, exclusive")
    q.add_argument("--chain", type=int, action="append", default=[], help="chain id (repeatable)")
    q.add_argument("--from", dest="sender", help="sender address")
    q.add_argument("--to", help="recipient address")
    q.add_argument("--selector", help="4-byte selector, 0x...")
    q.add_argument("--kind", help="tx kind (transfer, swap, ...) or detection kind")
    q.add_argument("--min-value", type=_wei, help="minimum value in wei (or 1.5eth)")
    q.add_argument(
        "--limit", type=int, default=100, help="print at most this many rows (default 100)"
    )
    q.add_argument("--cursor", help="the next-page cursor a previous query printed")
    q.add_argument("--explain", action="store_true", help="list the files the query reads, only")
    q.set_defaults(func=run_query)

    archive = subparsers.add_parser("archive", help="Parquet archive maintenance")
    actions = archive.add_subparsers(dest="action", required=True)
    retention = actions.add_parser("retention", help="delete date partitions older than N days")
    retention.add_argument("--url", help="archive URL (default: the configured archive)")
    retention.add_argument(
        "--days", type=int, help="default: SCORPIUS_STORAGE_ARCHIVE_RETENTION_DAYS"
    )
    retention.add_argument("--dry-run", action="store_true")
    retention.set_defaults(func=run_retention)


def existing_archive(url: str, options: dict[str, Any], option: str = "--url") -> None:
    """Raises a CommandError naming the fix when nothing is stored at ``url``."""
    fs, root = fsspec.core.url_to_fs(url, **options)
    if not fs.exists(root):
        raise CommandError(
            f"no archive at {url}: run `scorpius run` to fill it, or pass {option} with an archive"
        )


def run_query(args: argparse.Namespace) -> int:
    config = load_config()
    url = args.url or config.output.archive
    options = config.storage.archive_storage_options()
    existing_archive(url, options)
    filters = Filters(
        start=args.since,
        end=args.until,
        chains=tuple(args.chain),
        sender=args.sender,
        to=args.to,
        selector=args.selector,
        kind=args.kind,
        min_value=args.min_value,
    )
    try:
        if args.explain:
            for path in files_to_read(url, args.table, filters, options):
                print(path)
            return 0
        page = query(
            url, args.table, filters, limit=args.limit, cursor=args.cursor, storage_options=options
        )
    except QueryError as exc:
        print(f"scorpius query: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    for row in page.rows:
        out.write(orjson.dumps(row) + b"\n")
    out.flush()
    if not page.rows:
        print(f"scorpius query: no {args.table} in {url} match these filters", file=sys.stderr)
    if page.next_cursor:
        print(f"next page: --cursor {page.next_cursor}", file=sys.stderr)
    return 0


def run_retention(args: argparse.Namespace) -> int:
    config = load_config()
    url = args.url or config.output.archive
    days = args.days if args.days is not None else config.storage.archive_retention_days
    options = config.storage.archive_storage_options()
    existing_archive(url, options)
    if args.dry_run:
        doomed = partitions_older_than(url, days, storage_options=options)
    else:
        doomed = delete_older_than(url, days, storage_options=options)
    for path in doomed:
        print(path)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(doomed)} partition(s) older than {days} day(s)", file=sys.stderr)
    return 0
