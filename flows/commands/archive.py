"""``scorpius query`` (the Time Machine) and ``scorpius archive compact|retention|vacuum|history``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from flows.commands import CommandError
from flows.config import Config, load_config

# The table names, without importing the archive's modules (pyarrow, deltalake) at start-up; a
# test checks they match connectors.archive_tables.TABLES.
TABLE_NAMES = ("alerts", "blocks", "dead_letters", "detections", "rule_matches", "transactions")


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
        help="query the archive (the Time Machine); prints JSON lines",
        description="Print the archived records that match every filter, one JSON line each, "
        "oldest first, at most --limit of them; the cursor for the next page goes to stderr. "
        "Exits 2 when the archive is missing; a query that matches nothing says so on stderr "
        "and exits 0. Example: scorpius query --kind swap --since 2026-05-01 --limit 5",
    )
    q.add_argument("--url", help="archive URL (default: the configured archive)")
    q.add_argument(
        "--table",
        default="transactions",
        choices=TABLE_NAMES,
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
    travel = q.add_mutually_exclusive_group()
    travel.add_argument("--version", type=int, help="read the table as of this Delta version")
    travel.add_argument("--as-of", type=_time, help="read the table as it was at this time")
    q.set_defaults(func=run_query)

    archive = subparsers.add_parser("archive", help="archive maintenance (Delta Lake tables)")
    actions = archive.add_subparsers(dest="action", required=True)
    compaction = actions.add_parser("compact", help="rewrite small files into large ones")
    compaction.add_argument("--url", help="archive URL (default: the configured archive)")
    compaction.add_argument(
        "--table", action="append", choices=TABLE_NAMES, help="default: every table"
    )
    compaction.add_argument("--date", action="append", help="only these YYYY-MM-DD partitions")
    compaction.set_defaults(func=run_compact)
    sweep = actions.add_parser(
        "vacuum", help="delete files no version younger than --hours needs (ends older time travel)"
    )
    sweep.add_argument("--url", help="archive URL (default: the configured archive)")
    sweep.add_argument("--hours", type=int, default=168, help="keep time travel this far back")
    sweep.add_argument("--dry-run", action="store_true")
    sweep.set_defaults(func=run_vacuum)
    log = actions.add_parser("history", help="a table's commits, newest first (JSON lines)")
    log.add_argument("--url", help="archive URL (default: the configured archive)")
    log.add_argument("--table", default="transactions", choices=TABLE_NAMES)
    log.add_argument("--limit", type=int, default=20)
    log.set_defaults(func=run_history)
    retention = actions.add_parser("retention", help="delete date partitions older than N days")
    retention.add_argument("--url", help="archive URL (default: the configured archive)")
    retention.add_argument(
        "--days", type=int, help="default: SCORPIUS_STORAGE_ARCHIVE_RETENTION_DAYS"
    )
    retention.add_argument("--dry-run", action="store_true")
    retention.set_defaults(func=run_retention)


def _archive_of(args: argparse.Namespace) -> tuple[Config, str, dict[str, Any]]:
    """The configuration, the archive URL (``--url`` or the configured one) and its storage
    options."""
    config = load_config()
    return config, args.url or config.output.archive, config.storage.archive_storage_options()


def existing_archive(url: str, options: dict[str, Any], option: str = "--url") -> None:
    """Raises a CommandError naming the fix when nothing is stored at ``url``."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **options)
    if not fs.exists(root):
        raise CommandError(
            f"no archive at {url}: run `scorpius run` to fill it, or pass {option} with an archive"
        )


def run_query(args: argparse.Namespace) -> int:
    from connectors.archive_query import Filters, QueryError, files_to_read, query

    _, url, options = _archive_of(args)
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
            paths = files_to_read(
                url, args.table, filters, options, version=args.version, as_of=args.as_of
            )
            for path in paths:
                print(path)
            return 0
        page = query(
            url,
            args.table,
            filters,
            limit=args.limit,
            cursor=args.cursor,
            storage_options=options,
            version=args.version,
            as_of=args.as_of,
        )
    except QueryError as exc:
        print(f"scorpius query: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    for row in page.rows:
        out.write(orjson.dumps(row, default=str) + b"\n")
    out.flush()
    if not page.rows:
        print(f"scorpius query: no {args.table} in {url} match these filters", file=sys.stderr)
    if page.next_cursor:
        print(f"next page: --cursor {page.next_cursor}", file=sys.stderr)
    return 0


def run_retention(args: argparse.Namespace) -> int:
    from connectors.archive_query import delete_older_than, partitions_older_than

    config, url, options = _archive_of(args)
    days = args.days if args.days is not None else config.storage.archive_retention_days
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


def run_compact(args: argparse.Namespace) -> int:
    from connectors.delta_archive import compact

    _, url, options = _archive_of(args)
    for table in args.table or TABLE_NAMES:
        result = compact(url, table, options, dates=args.date)
        if result:
            print(
                f"{table}: {result['numFilesRemoved']} file(s) -> {result['numFilesAdded']}",
                file=sys.stderr,
            )
    return 0


def run_vacuum(args: argparse.Namespace) -> int:
    from connectors.archive_query import vacuum

    _, url, options = _archive_of(args)
    removed = vacuum(url, args.hours, dry_run=args.dry_run, storage_options=options)
    for paths in removed.values():
        for path in paths:
            print(path)
    verb = "would delete" if args.dry_run else "deleted"
    total = sum(len(paths) for paths in removed.values())
    print(f"{verb} {total} file(s) older than {args.hours} hour(s)", file=sys.stderr)
    return 0


def run_history(args: argparse.Namespace) -> int:
    from connectors.archive_query import history

    _, url, options = _archive_of(args)
    out = sys.stdout.buffer
    for commit in history(url, args.table, options, args.limit):
        out.write(orjson.dumps(commit, default=str) + b"\n")
    out.flush()
    return 0
