"""Poison messages in Kafka ``tx_raw`` with recovery on (issue 14): each is dead-lettered once, the
flow goes on, and a restart from the recovery snapshot does not read them again."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from bytewax.recovery import init_db_dir
from confluent_kafka import Producer

from connectors.kafka import HEADER_CHAIN_ID, HEADER_SEEN_MS, SinkMessage, raw_message
from connectors.replay import read_items
from flows.config import BUNDLED_SAMPLE
from operators.records import RawItem
from tests.services.kafka import create_topic, producer_headers, unique_topic

REPO = Path(__file__).resolve().parents[2]
YEAR_2100_MS = 4_102_444_800_000
BYTEWAX_RUN = [sys.executable, "-m", "bytewax.run", "flows.mempool:flow"]


def good_items(n: int, offset: int) -> list[RawItem]:
    now_ms = time.time_ns() // 1_000_000
    txs = [i for i in read_items(BUNDLED_SAMPLE) if isinstance(i, RawItem) and i.kind == "tx"]
    return [
        msgspec.structs.replace(tx, seen_ms=now_ms - 60_000 + k)
        for k, tx in enumerate(txs[offset : offset + n])
    ]


def with_header(msg: SinkMessage, name: str, value: bytes) -> SinkMessage:
    headers = [(k, value if k == name else v) for k, v in msg.headers]
    return dataclasses.replace(msg, headers=headers)


def poison(template: RawItem) -> list[tuple[str, SinkMessage]]:
    """Each way a producer can poison tx_raw, with the reason class its dead letter must have."""
    msg = raw_message(template)
    deep = b"[" * 5000 + b"]" * 5000
    return [
        ("bad header", with_header(msg, HEADER_SEEN_MS, b"99999999999999999999999")),
        ("timestamp out of range", with_header(msg, HEADER_SEEN_MS, str(YEAR_2100_MS).encode())),
        ("bad header", with_header(msg, HEADER_CHAIN_ID, b"9" * 5000)),
        ("not JSON", dataclasses.replace(msg, key=b"junk", value=b"\xff{not json")),
        ("not a JSON object", dataclasses.replace(msg, key=b"deep", value=deep)),
    ]


def produce(bootstrap: str, topic: str, messages: list[SinkMessage]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for msg in messages:
        producer.produce(topic, msg.value, msg.key, headers=producer_headers(msg.headers))
    assert producer.flush(30) == 0


def run_flow(env: dict[str, str], recovery: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BYTEWAX_RUN, "-r", str(recovery), "-s", "1", "-b", "0"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def letters(out: Path) -> list[dict[str, Any]]:
    text = (out / "dead_letters.jsonl").read_text()
    return [json.loads(line) for line in text.split("\n") if line]


@pytest.mark.slow
@pytest.mark.service
def test_poison_in_tx_raw_is_dead_lettered_once_and_not_read_again_after_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = create_topic(kafka_bootstrap, unique_topic("tx-raw-poison"), partitions=2)
    first, second = good_items(20, 0), good_items(20, 20)
    poisons = poison(first[0])
    produce(kafka_bootstrap, topic, [raw_message(i) for i in first] + [m for _, m in poisons])
    expected = sorted(reason for reason, _ in poisons)
    recovery, out = tmp_path / "recovery", tmp_path / "out"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    env = {
        "SCORPIUS_SOURCE_KIND": "kafka",
        "SCORPIUS_KAFKA_BROKERS": kafka_bootstrap,
        "SCORPIUS_KAFKA_TOPIC_RAW": topic,
        "SCORPIUS_KAFKA_TAIL": "false",  # each run reads to the end of the topic and finishes
        "SCORPIUS_OUTPUT_DIR": str(out),
        "SCORPIUS_OUTPUT_CONSOLE": "false",
    }

    done = run_flow(env, recovery)
    assert done.returncode == 0, done.stderr[-3000:]
    refused = [x for x in letters(out) if x["stage"] in ("normalize", "kafka_source")]
    assert sorted(x["reason"].split(":")[0] for x in refused) == expected
    summary = json.loads((out / "summary.json").read_text())
    assert summary["normalized"] == len(first)

    # The restart resumes from the snapshot: the poison is behind it, only new messages are read.
    produce(kafka_bootstrap, topic, [raw_message(i) for i in second])
    done = run_flow(env, recovery)
    assert done.returncode == 0, done.stderr[-3000:]
    refused = [x for x in letters(out) if x["stage"] in ("normalize", "kafka_source")]
    assert sorted(x["reason"].split(":")[0] for x in refused) == expected
    summary = json.loads((out / "summary.json").read_text())
    assert summary["normalized"] == len(first) + len(second)
    assert summary["read"] == len(first) + len(poisons) + len(second)
