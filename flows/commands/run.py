"""``scorpius run``: the main job, on the configured source (the bundled sample by default)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

from flows.commands import CommandError, add_command
from flows.commands.archive import existing_archive
from flows.config import Config, load_config
from flows.logs import configure_logging
from flows.shutdown import install_stop_handlers
from operators.records import SEVERITIES

HELP = """run the flow (default: replay the bundled mainnet sample to ./out)

Run the Scorpius flow in this process. Settings come from the environment (SCORPIUS_*) and
SCORPIUS_CONFIG; the options below override them. For several processes use `python -m
bytewax.run flows.mempool:flow -i N -a ...`.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "run", HELP)
    parser.add_argument("-w", "--workers", type=int, default=1, help="worker threads (default 1)")
    parser.add_argument("-o", "--out", help="output folder (SCORPIUS_OUTPUT_DIR, default ./out)")
    parser.add_argument(
        "--replay", help="replay this JSON-lines file instead of the bundled sample"
    )
    parser.add_argument("--speed", type=float, help="replay speed factor (0 = as fast as possible)")
    parser.add_argument(
        "--archive",
        nargs="?",
        const="",
        metavar="URL",
        help="backtest: replay the archive (default: this run's output archive)",
    )
    parser.add_argument("--since", help="with --archive: from this ISO time (UTC)")
    parser.add_argument("--until", help="with --archive: up to this ISO time (UTC, exclusive)")
    parser.add_argument(
        "--dumpster", nargs="+", metavar="FILE", help="replay mempool-dumpster Parquet/CSV files"
    )
    parser.add_argument("--rate", type=float, help="replay this many items per second")
    parser.add_argument(
        "--rebase", action="store_true", help="replayed items count as first seen now"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="console shows only high and critical alerts (all go to alerts.jsonl)",
    )
    parser.add_argument(
        "--min-severity",
        choices=SEVERITIES,
        help="console shows alerts from this severity up (SCORPIUS_OUTPUT_CONSOLE_MIN_SEVERITY)",
    )
    parser.add_argument(
        "--no-console", action="store_true", help="no console line per alert at all"
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        help="colour severities: auto = on a terminal unless NO_COLOR is set (the default)",
    )
    parser.add_argument("-r", "--recovery-directory", help="bytewax recovery directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(os.environ)
    output = cfg.output
    if args.out:
        output = dataclasses.replace(output, dir=args.out)
    if args.quiet:
        output = dataclasses.replace(output, console_min_severity="high")
    if args.min_severity:
        output = dataclasses.replace(output, console_min_severity=args.min_severity)
    if args.no_console:
        output = dataclasses.replace(output, console=False)
    if args.color:
        output = dataclasses.replace(output, console_color=args.color)
    source = cfg.source
    if args.replay:
        source = dataclasses.replace(source, kind="replay", replay_path=args.replay)
    if args.archive is not None:
        source = dataclasses.replace(
            source,
            kind="archive",
            archive_url=args.archive,
            archive_start=args.since or "",
            archive_end=args.until or "",
        )
    if args.dumpster:
        source = dataclasses.replace(source, kind="dumpster", dumpster_paths=tuple(args.dumpster))
    if args.speed is not None:
        source = dataclasses.replace(source, replay_speed=args.speed)
    if args.rate is not None:
        source = dataclasses.replace(source, replay_rate=args.rate)
    if args.rebase:
        source = dataclasses.replace(source, replay_rebase=True)
    cfg = dataclasses.replace(cfg, output=output, source=source)
    # The flow's modules load only when a flow runs: `scorpius --help` stays fast.
    from bytewax.recovery import RecoveryConfig
    from bytewax.run import cli_main

    from flows.mempool import build_flow
    from flows.wiring.memory import start_memory_care

    recovery = RecoveryConfig(args.recovery_directory) if args.recovery_directory else None
    check_inputs(cfg)
    configure_logging()
    flow = build_flow(cfg, install_stop_handlers())
    summary = Path(output.dir) / "summary.json"
    # A summary left by an earlier run must not pass for this one's.
    summary.unlink(missing_ok=True)
    print(
        f"scorpius run: {describe_source(cfg)} -> {output.dir}/ "
        f"({args.workers} worker{'s' if args.workers > 1 else ''}; alerts below, "
        "a summary at the end)",
        file=sys.stderr,
        flush=True,
    )
    memory = start_memory_care(cfg.memory)
    try:
        cli_main(
            flow,
            workers_per_process=args.workers,
            epoch_interval=timedelta(seconds=10),
            recovery_config=recovery,
        )
    finally:
        memory.stop()
    read = json.loads(summary.read_text()).get("read", 0) if summary.exists() else 0
    if not read:
        print(
            f"scorpius run: {describe_source(cfg)} gave nothing to read; {hint(cfg)}",
            file=sys.stderr,
        )
        return 1
    return 0


def check_inputs(cfg: Config) -> None:
    """A missing input is the user's mistake, said in one line before the flow starts (a source
    failing inside the flow would end in Bytewax's panic)."""
    source = cfg.source
    if source.kind == "replay" and not Path(source.replay_path).is_file():
        raise CommandError(f"no recording at {source.replay_path}: pass --replay FILE")
    if source.kind == "dumpster":
        missing = [p for p in source.dumpster_paths if "://" not in p and not Path(p).is_file()]
        if missing:
            raise CommandError(f"no mempool-dumpster file {', '.join(missing)}: check the paths")
    if source.kind == "archive":
        existing_archive(
            source.archive_url or cfg.output.archive,
            cfg.storage.archive_storage_options(),
            "--archive URL",
        )


def describe_source(cfg: Config) -> str:
    source = cfg.source
    if source.kind == "replay":
        return f"replaying {source.replay_path}"
    if source.kind == "archive":
        span = ""
        if source.archive_start or source.archive_end:
            span = (
                f" from {source.archive_start or 'the start'} to {source.archive_end or 'the end'}"
            )
        return f"replaying the archive {source.archive_url or cfg.output.archive}{span}"
    if source.kind == "dumpster":
        return f"replaying mempool-dumpster files {', '.join(source.dumpster_paths)}"
    if source.kind == "kafka":
        return f"reading {cfg.kafka.topic_raw} from {','.join(cfg.kafka.brokers)}"
    return f"the {source.kind} source"


def hint(cfg: Config) -> str:
    """How to give the source something, per kind."""
    source = cfg.source
    if source.kind == "archive":
        return (
            "the archive holds no transactions in that range: fill it with `scorpius run` "
            "(its archive is <out>/archive), or pass --archive URL, --since, --until"
        )
    if source.kind == "kafka":
        return "the topic is empty: start `scorpius kafka ingest`, or check SCORPIUS_KAFKA_*"
    return "the input is empty"
