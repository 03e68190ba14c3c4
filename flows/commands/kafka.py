"""``scorpius kafka``: create and configure the topics, and run the ingest job.

    scorpius kafka create-topics [--partitions N] [--replication R] [--retention-hours H]
    scorpius kafka ingest [-w N] [-r DIR]

Brokers, topic names, security and the defaults of the options come from the Kafka settings
(``SCORPIUS_KAFKA_*``, see ``scorpius config``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from datetime import timedelta

from flows.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("kafka", help="Kafka topics and the tx_raw ingest job")
    commands = parser.add_subparsers(dest="kafka_command", required=True)

    create = commands.add_parser(
        "create-topics",
        help="create the topics (tx_raw, tx_enriched, mev_bundles, alerts, dead letters) or "
        "bring an existing one to the configured partitions and retention",
    )
    create.add_argument(
        "--partitions", type=int, help="partitions per topic (SCORPIUS_KAFKA_PARTITIONS)"
    )
    create.add_argument(
        "--replication", type=int, help="replicas per partition (SCORPIUS_KAFKA_REPLICATION)"
    )
    create.add_argument(
        "--retention-hours",
        type=float,
        help="how long messages are kept (SCORPIUS_KAFKA_RETENTION_HOURS)",
    )
    create.set_defaults(func=create_topics)

    ingest = commands.add_parser(
        "ingest",
        help="run the ingest job: the configured source (SCORPIUS_SOURCE_KIND rpc or replay) to tx_raw",
    )
    ingest.add_argument("-w", "--workers", type=int, default=1, help="worker threads (default 1)")
    ingest.add_argument("-r", "--recovery-directory", help="bytewax recovery directory")
    ingest.set_defaults(func=run_ingest)


def create_topics(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException

    from flows.wiring.kafka import ensure_topics

    cfg = load_config(os.environ).kafka
    overrides = {
        "partitions": args.partitions,
        "replication": args.replication,
        "retention_hours": args.retention_hours,
    }
    cfg = dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    try:
        report = ensure_topics(cfg)
    except KafkaException as exc:
        brokers = ",".join(cfg.brokers)
        print(f"scorpius kafka create-topics: {brokers}: {exc.args[0].str()}", file=sys.stderr)
        return 1
    for line in report:
        print(line)
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    from bytewax.recovery import RecoveryConfig
    from bytewax.run import cli_main

    from flows.ingest import build_ingest_flow

    recovery = RecoveryConfig(args.recovery_directory) if args.recovery_directory else None
    cli_main(
        build_ingest_flow(load_config(os.environ)),
        workers_per_process=args.workers,
        epoch_interval=timedelta(seconds=10),
        recovery_config=recovery,
    )
    return 0
