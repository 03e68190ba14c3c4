"""Two bytewax processes of one worker each, on a 4-partition ``tx_raw``, against the real broker.

Every message must come out exactly once across ``tx_enriched`` and the dead-letter topic, with
the replacements found by keyed state (kept per chain:sender, across workers) in ``mev_bundles``.
The recovery test kills both processes mid-stream (SIGKILL, no clean shutdown) and restarts them
from the bytewax recovery directory: at-least-once delivery may repeat the last epoch's outputs,
so outputs are de-duplicated by their message key (tx hash, ``Detection.key``, dead-letter digest),
as a downstream consumer does; after that nothing may be missing and nothing doubled.

``SCORPIUS_TEST_KAFKA_MESSAGES`` sets the workload size (default 100,000).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from bytewax.recovery import init_db_dir
from confluent_kafka import Consumer, TopicPartition

from operators.normalize import STAGE as NORMALIZE
from operators.records import DeadLetter
from tests.connectors.kafka_workload import (
    Outgoing,
    expected_identities,
    make_workload,
    produce,
)
from tests.services.kafka import (
    create_topic,
    message_key,
    message_value,
    read_topic,
    unique_topic,
)
from tests.services.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = int(os.environ.get("SCORPIUS_TEST_KAFKA_MESSAGES", "100000"))
FLOW = "tests.connectors.kafka_workload:flow"

pytestmark = [pytest.mark.service, pytest.mark.slow]


@dataclass
class Topics:
    raw: str
    enriched: str
    bundles: str
    dead: str

    def env(self, bootstrap: str, tail: bool) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCORPIUS_KAFKA_BROKERS": bootstrap,
            "SCORPIUS_KAFKA_TOPIC_RAW": self.raw,
            "SCORPIUS_KAFKA_TOPIC_ENRICHED": self.enriched,
            "SCORPIUS_KAFKA_TOPIC_BUNDLES": self.bundles,
            "SCORPIUS_KAFKA_TOPIC_DEAD_LETTERS": self.dead,
            "SCORPIUS_KAFKA_TAIL": "true" if tail else "false",
        }


def _topics(bootstrap: str) -> Topics:
    topics = Topics(
        raw=unique_topic("tx_raw"),
        enriched=unique_topic("tx_enriched"),
        bundles=unique_topic("mev_bundles"),
        dead=unique_topic("dead_letters"),
    )
    create_topic(bootstrap, topics.raw, partitions=4)
    for name in (topics.enriched, topics.bundles, topics.dead):
        create_topic(bootstrap, name, partitions=2)
    return topics


class Cluster:
    """``python -m bytewax.run`` as processes 0..n-1 of one cluster, one worker each."""

    def __init__(self, env: dict[str, str], logs: Path, recovery: Path | None, processes: int = 2):
        addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
        options = ["-s", "1", "-b", "0", "-r", str(recovery)] if recovery else []
        self.logs = [logs / f"process{i}.log" for i in range(processes)]
        self.procs = []
        for i, log in enumerate(self.logs):
            with log.open("ab") as out:
                command = [sys.executable, "-m", "bytewax.run", FLOW, "-i", str(i), "-a", addresses]
                self.procs.append(
                    subprocess.Popen(
                        [*command, *options], cwd=ROOT, env=env, stdout=out, stderr=out
                    )
                )

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for proc, log in zip(self.procs, self.logs, strict=True):
            try:
                code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"flow still running after {timeout:.0f}s:\n{log.read_text()[-3000:]}")
            assert code == 0, f"process exited with {code}:\n{log.read_text()[-3000:]}"

    def kill(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(timeout=30)


def _topic_size(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "scorpius-tests-size"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


@dataclass
class Outputs:
    identities: Counter[str]  # what each enriched tx / dead letter says it came from
    detections: Counter[str]  # Detection.key

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.identities.values()) + sum(
            n - 1 for n in self.detections.values()
        )

    def deduplicated(self) -> Outputs:
        return Outputs(Counter(set(self.identities)), Counter(set(self.detections)))


def _outputs(bootstrap: str, topics: Topics) -> Outputs:
    identities: Counter[str] = Counter()
    for msg in read_topic(bootstrap, topics.enriched, timeout=120):
        identities[message_key(msg).decode()] += 1
    for msg in read_topic(bootstrap, topics.dead, timeout=120):
        letter = msgspec.json.decode(message_value(msg), type=DeadLetter)
        identities[letter.payload if letter.stage == NORMALIZE else letter.source] += 1
    detections = Counter(message_key(msg).decode() for msg in read_topic(bootstrap, topics.bundles))
    return Outputs(identities, detections)


def _assert_exactly_once(outputs: Outputs, messages: list[Outgoing], detections: set[str]) -> None:
    expected = expected_identities(messages)
    assert len(expected) == len(messages)  # identities are unique by construction
    missing = expected - outputs.identities
    extra = outputs.identities - expected
    assert not missing, f"{sum(missing.values())} messages lost, e.g. {list(missing)[:3]}"
    assert not extra, f"{sum(extra.values())} outputs too many, e.g. {list(extra)[:3]}"
    assert outputs.detections == Counter(detections)


def test_two_processes_account_for_every_message_exactly_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = _topics(kafka_bootstrap)
    workload = make_workload(MESSAGES)
    produce(kafka_bootstrap, topics.raw, workload.messages)
    assert {m.expect for m in workload.messages} == {"tx", "source", "normalize"}
    assert len(workload.detection_keys) > 100

    Cluster(topics.env(kafka_bootstrap, tail=False), tmp_path, recovery=None).wait(timeout=300)

    _assert_exactly_once(
        _outputs(kafka_bootstrap, topics), workload.messages, workload.detection_keys
    )


def recovery_dir(tmp_path: Path, parts: int = 4) -> Path:
    """A fresh bytewax recovery store of ``parts`` partitions."""
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, parts)
    return recovery


def _wait_for_size(bootstrap: str, topic: str, size: int, timeout: float = 240.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _topic_size(bootstrap, topic, 2)
        if now >= size:
            return now
        time.sleep(0.05)
    raise TimeoutError(f"{topic} did not reach {size} messages within {timeout:.0f}s")


def test_restart_from_recovery_loses_nothing_and_doubles_no_detection(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = _topics(kafka_bootstrap)
    workload = make_workload(MESSAGES, seed=11)
    messages = workload.messages
    quarter, half = len(messages) // 4, len(messages) // 2
    good_in_quarter = sum(m.expect == "tx" for m in messages[:quarter])
    good_in_half = sum(m.expect == "tx" for m in messages[:half])
    recovery = recovery_dir(tmp_path)

    # A first quarter, processed in full and snapshotted (every second) while the flow idles.
    produce(kafka_bootstrap, topics.raw, messages[:quarter])
    cluster = Cluster(topics.env(kafka_bootstrap, tail=True), tmp_path, recovery)
    _wait_for_size(kafka_bootstrap, topics.enriched, good_in_quarter)
    time.sleep(2.5)
    # The second quarter is being written and read when both processes die.
    producing = threading.Thread(
        target=produce, args=(kafka_bootstrap, topics.raw, messages[quarter:half])
    )
    producing.start()
    done_at_kill = _wait_for_size(kafka_bootstrap, topics.enriched, good_in_quarter + 500)
    cluster.kill()
    producing.join()
    done_at_kill = _topic_size(kafka_bootstrap, topics.enriched, 2)
    assert done_at_kill < good_in_half, "the kill did not land mid-stream"
    written_first = sum(
        _topic_size(kafka_bootstrap, name, 2)
        for name in (topics.enriched, topics.bundles, topics.dead)
    )

    # The stream goes on while the flow is down; the restart reads to the end and stops.
    produce(kafka_bootstrap, topics.raw, messages[half:])
    Cluster(topics.env(kafka_bootstrap, tail=False), tmp_path, recovery).wait(timeout=300)

    outputs = _outputs(kafka_bootstrap, topics)
    # Resumed from a snapshot's offsets, not from the start: fewer repeats than the first run
    # wrote in all.
    assert outputs.duplicates < written_first
    print(
        f"\nkilled after {done_at_kill} of {good_in_half} txs; the restart repeated "
        f"{outputs.duplicates} of the first run's {written_first} outputs (removed by key)"
    )
    _assert_exactly_once(outputs.deduplicated(), messages, workload.detection_keys)
