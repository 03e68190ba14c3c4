"""Kafka → flow → Kafka throughput (messages per second), for 1 and 2 workers.

    python bench/bench_kafka.py [--messages 100000] [--partitions 4] [--bootstrap HOST:PORT]

Starts a KRaft broker from the test jars (``tests/services/install_kafka.sh``) unless
``--bootstrap`` names one, writes a generated ``tx_raw`` workload (2% malformed, 3% replacements;
``tests/connectors/kafka_workload.py``) once, then runs the workload flow (decode, parse the RPC
JSON, keyed replacement state, three Kafka sinks with idempotent producers) over it with
``python -m bytewax.run`` in each layout, to the end of the topic.

Two figures per layout: ``steady`` is messages over the span between the first and the last
output message's timestamp (the flow at work); ``wall`` also counts process start-up and
connecting. The parse step is a stand-in for the real normalizer; see the workload module.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from confluent_kafka import Consumer, KafkaError, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.testbed import (  # noqa: E402
    KAFKA_WORKLOAD_FLOW,
    KafkaServer,
    create_topic,
    free_port,
    make_workload,
    produce,
    unique_topic,
)

FLOW = KAFKA_WORKLOAD_FLOW
LAYOUTS = {
    "1 process x 1 worker": (1, 1),
    "1 process x 2 workers": (1, 2),
    "2 processes x 1 worker": (2, 1),
}


def _timestamps(bootstrap: str, topics: list[str], partitions: int) -> tuple[int, int, int]:
    """(count, first, last) message timestamps in ms over ``topics``."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench", "enable.partition.eof": True}
    )
    assignment = [TopicPartition(t, p, 0) for t in topics for p in range(partitions)]
    consumer.assign(assignment)
    pending = {(tp.topic, tp.partition) for tp in assignment}
    count, first, last = 0, 2**63, 0
    while pending:
        for msg in consumer.consume(10_000, 1.0):
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard((msg.topic(), msg.partition()))
                continue
            stamp = msg.timestamp()[1]
            count, first, last = count + 1, min(first, stamp), max(last, stamp)
    consumer.close()
    return count, first, last


OUTPUT_TOPICS = ("ENRICHED", "BUNDLES", "ALERTS", "DEAD_LETTERS")


def output_topics(
    bootstrap: str, partitions: int, config: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Fresh output topics, as the ``SCORPIUS_KAFKA_TOPIC_*`` settings that name them."""
    outputs = {}
    for name in OUTPUT_TOPICS:
        topic = unique_topic(f"bench-{name.lower()}")
        outputs[f"SCORPIUS_KAFKA_TOPIC_{name}"] = create_topic(bootstrap, topic, partitions, config)
    return outputs


def flow_env(
    bootstrap: str, raw_topic: str, outputs: Mapping[str, str], tail: bool, **settings: str
) -> dict[str, str]:
    """The environment of a flow process reading ``raw_topic`` and writing ``outputs``."""
    return {
        **os.environ,
        **outputs,
        **settings,
        "PYTHONPATH": str(ROOT),
        "SCORPIUS_KAFKA_BROKERS": bootstrap,
        "SCORPIUS_KAFKA_TOPIC_RAW": raw_topic,
        "SCORPIUS_KAFKA_TAIL": str(tail).lower(),
    }


def start_flow(
    flow: str, env: Mapping[str, str], processes: int, workers: int, log: IO[bytes] | None = None
) -> list[subprocess.Popen[bytes]]:
    """``processes`` x ``workers`` of ``python -m bytewax.run flow``, as one cluster."""
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
    procs = []
    for i in range(processes):
        command = [sys.executable, "-m", "bytewax.run", flow, "-w", str(workers)]
        if processes > 1:
            command += ["-i", str(i), "-a", addresses]
        stderr = log if log is not None else subprocess.DEVNULL
        procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stderr=stderr))
    return procs


def run_layout(
    bootstrap: str,
    raw_topic: str,
    partitions: int,
    processes: int,
    workers: int,
    flow: str = FLOW,
    **settings: str,
) -> tuple[float, float, int]:
    """Runs ``flow`` over ``raw_topic`` to its end: (wall s, steady span s, output messages)."""
    outputs = output_topics(bootstrap, partitions)
    env = flow_env(bootstrap, raw_topic, outputs, tail=False, **settings)
    started = time.monotonic()
    procs = start_flow(flow, env, processes, workers)
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"flow process exited with {proc.returncode}")
    wall = time.monotonic() - started
    count, first, last = _timestamps(bootstrap, list(outputs.values()), partitions)
    return wall, max(last - first, 1) / 1000.0, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            server = KafkaServer(Path(tmp) / "kafka")
            server.start()
            bootstrap = server.bootstrap
        try:
            raw_topic = create_topic(bootstrap, unique_topic("bench-tx_raw"), args.partitions)
            workload = make_workload(args.messages)
            produce(bootstrap, raw_topic, workload.messages)
            print(
                f"{args.messages} tx_raw messages, {args.partitions} partitions, "
                f"{os.cpu_count()} CPUs (broker on the same machine)"
            )
            for name, (processes, workers) in LAYOUTS.items():
                wall, span, count = run_layout(
                    bootstrap, raw_topic, args.partitions, processes, workers
                )
                print(
                    f"{name:<24} steady {args.messages / span:>9,.0f} msgs/s   "
                    f"wall {args.messages / wall:>9,.0f} msgs/s ({wall:.1f} s, {count} out)"
                )
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
