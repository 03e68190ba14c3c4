"""``scorpius run``: the main job, on the configured source (the bundled sample by default)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from datetime import timedelta

from flows.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the flow (default: replay the bundled mainnet sample to ./out)",
        description="Run the Scorpius flow in this process. Settings come from the environment "
        "(SCORPIUS_*) and SCORPIUS_CONFIG; the options below override them. For several processes "
        "use `python -m bytewax.run flows.mempool:flow -i N -a ...`.",
    )
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
    parser.add_argument("--quiet", action="store_true", help="no console line per alert")
    parser.add_argument("-r", "--recovery-directory", help="bytewax recovery directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(os.environ)
    output = cfg.output
    if args.out:
        output = dataclasses.replace(output, dir=args.out)
    if args.quiet:
        output = dataclasses.replace(output, console=False)
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

    recovery = RecoveryConfig(args.recovery_directory) if args.recovery_directory else None
    cli_main(
        build_flow(cfg),
        workers_per_process=args.workers,
        epoch_interval=timedelta(seconds=10),
        recovery_config=recovery,
    )
    return 0
