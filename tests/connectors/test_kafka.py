"""connectors.kafka against a real broker (the session's KRaft node), plus its pure framing."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import time
from pathlib import Path

import bytewax.operators as op
import msgspec
import pytest
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from connectors.kafka import (
    STAGE,
    consume_error_letter,
    decode_raw,
    raw_message,
    record_key,
    to_message,
)
from connectors.replay import ReplaySource
from flows.commands import kafka as kafka_command
from flows.config import Config, ConfigError, KafkaConfig, load_config
from flows.ingest import build_ingest_flow
from flows.steps.kafka import kafka_output, kafka_raw_input
from flows.wiring.kafka import ensure_topics
from flows.wiring.sources import raw_input
from operators.records import (
    Alert,
    DeadLetter,
    Detection,
    EnrichedTx,
    RawItem,
    RuleMatch,
    Tx,
)
from tests.services.kafka import (
    create_topic,
    message_value,
    producer_headers,
    read_topic,
    topic_settings,
    unique_topic,
)

BIG = 2**200 + 12345  # an amount no 64-bit JSON codec could carry


def _item(n: int, chain_id: int = 1, kind: str = "tx") -> RawItem:
    payload = msgspec.json.encode({"hash": f"0x{n:064X}", "nonce": hex(n), "value": hex(BIG)})
    return RawItem(kind, chain_id, f"ws:node{n % 2}", 1_763_000_000_000 + n, payload)


def _as_source_message(
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    timestamp: tuple[int, int] | None = None,
) -> KafkaSourceMessage[bytes | None, bytes | None]:
    return KafkaSourceMessage(
        key=key,
        value=value,
        topic="tx_raw",
        headers=headers,
        partition=2,
        offset=41,
        timestamp=timestamp,
    )


def _tx(n: int) -> Tx:
    return Tx(
        chain_id=8453,
        hash=f"0x{n:064x}",
        sender=f"0x{n:040x}",
        to=None,
        nonce=n,
        value=BIG,
        gas=21_000,
        tx_type=2,
        input="0x",
        selector=None,
        first_seen_ms=1_763_000_000_000,
        source="ws:base",
    )


# --- framing, no broker -------------------------------------------------------------------------


def test_raw_item_framing_round_trips() -> None:
    item = _item(7, chain_id=42161, kind="block")
    msg = raw_message(item)
    assert msg.key == f"0x{7:064x}".encode()  # the payload's hash, lowercased
    assert decode_raw(_as_source_message(msg.key, msg.value, list(msg.headers))) == item


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", [("seen_ms", b"1")], "missing header: chain_id"),
        (b"{}", [("chain_id", b"one"), ("seen_ms", b"1")], "bad header: chain_id='one'"),
        (b"{}", [("chain_id", b"1"), ("seen_ms", b"-5")], "bad header: seen_ms='-5'"),
        (b"{}", [("chain_id", b"1")], "missing header: seen_ms"),
        (b"{}", [("chain_id", b"\xff"), ("seen_ms", b"1")], "bad header: not UTF-8"),
        (None, [("chain_id", b"1"), ("seen_ms", b"1")], "empty value"),
        (b"", [("chain_id", b"1"), ("seen_ms", b"1")], "empty value"),
    ],
)
def test_malformed_envelopes_are_dead_letters(
    value: bytes | None, headers: list[tuple[str, bytes]], reason: str
) -> None:
    letter = decode_raw(_as_source_message(None, value, headers))
    assert isinstance(letter, DeadLetter)
    assert letter.stage == STAGE
    assert letter.reason.startswith(reason)
    assert letter.source == "kafka:tx_raw/2@41"
    assert letter.payload == ("" if value is None else value.decode("utf-8"))


def test_missing_provenance_falls_back_to_message_time_and_defaults() -> None:
    item = decode_raw(
        _as_source_message(None, b"{}", [("chain_id", b"10")], (1, 1_700_000_000_123))
    )
    assert item == RawItem("tx", 10, "kafka", 1_700_000_000_123, b"{}")


def test_consumer_errors_are_dead_letters() -> None:
    msg = _as_source_message(None, None, [])
    error = KafkaError(ConfluentError(ConfluentError._TRANSPORT, "broker down"), msg)
    letter = consume_error_letter(error)
    assert letter.stage == STAGE
    assert letter.reason.startswith("consume error: broker down")
    assert letter.source == "kafka:tx_raw/2@41"


def test_keys_follow_the_documented_scheme() -> None:
    etx = EnrichedTx(tx=_tx(3), kind="transfer")
    assert record_key(etx) == etx.tx.hash.encode()
    detection = Detection("sandwich:1:0xabc", "sandwich", 1, ("0x1", "0x2"), 5, 6)
    assert record_key(detection) == b"sandwich:1:0xabc"
    letter = DeadLetter("normalize", "bad hex in field 'value': '0xzz'", '{"value":"0xzz"}')
    # Same letter, same key (a repeat after a restart is recognisable); other payload, other key.
    assert record_key(letter) == record_key(msgspec.structs.replace(letter, at_ms=99))
    assert record_key(letter) != record_key(msgspec.structs.replace(letter, payload="{}"))
    headers = dict(to_message(etx).headers)
    assert headers == {"chain_id": b"8453"}


# --- with the broker ----------------------------------------------------------------------------


def _config(bootstrap: str, **topics: str) -> KafkaConfig:
    return KafkaConfig(brokers=(bootstrap,), tail=False, **topics)  # type: ignore[arg-type]


def _consume_all(cfg: KafkaConfig) -> tuple[list[RawItem], list[DeadLetter]]:
    flow = Dataflow("read_tx_raw")
    raws, dead = kafka_raw_input("in", flow, cfg)
    got_raws: list[RawItem] = []
    got_dead: list[DeadLetter] = []
    op.output("raws", raws, TestingSink(got_raws))
    op.output("dead", dead, TestingSink(got_dead))
    run_main(flow)
    return got_raws, got_dead


@pytest.mark.service
def test_ingest_flow_round_trips_raw_items_through_tx_raw(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    raw_topic = create_topic(kafka_bootstrap, unique_topic("tx_raw"), partitions=4)
    dead_topic = create_topic(kafka_bootstrap, unique_topic("dead"), partitions=1)
    cfg = _config(kafka_bootstrap, topic_raw=raw_topic, topic_dead_letters=dead_topic)
    items = [_item(n, chain_id=(1, 10, 8453, 42161)[n % 4]) for n in range(200)]
    recording = tmp_path / "recorded.jsonl.gz"
    with gzip.open(recording, "wb") as fh:
        for item in items:
            line = {
                "kind": item.kind,
                "chain_id": item.chain_id,
                "source": item.source,
                "seen_ms": item.seen_ms,
                "payload": msgspec.Raw(item.payload),
            }
            fh.write(msgspec.json.encode(line) + b"\n")
        fh.write(b"not a recorded item\n")

    run_main(build_ingest_flow(Config(kafka=cfg), ReplaySource(recording, partitions=3)))

    raws, dead = _consume_all(cfg)
    assert sorted(raws, key=lambda r: r.seen_ms) == items
    assert dead == []
    # Same key, same partition: what per-key order rests on.
    placed = {msg.key(): msg.partition() for msg in read_topic(kafka_bootstrap, raw_topic)}
    assert len(placed) == len(items)
    assert len(set(placed.values())) == 4
    letters = [
        msgspec.json.decode(message_value(m), type=DeadLetter)
        for m in read_topic(kafka_bootstrap, dead_topic)
    ]
    assert [(d.stage, d.payload) for d in letters] == [("replay", "not a recorded item\n")]


@pytest.mark.service
def test_malformed_messages_become_dead_letters_and_the_rest_flows(kafka_bootstrap: str) -> None:
    topic = create_topic(kafka_bootstrap, unique_topic("tx_raw"), partitions=2)
    good = [_item(n) for n in range(20)]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for n, item in enumerate(good):
        msg = raw_message(item)
        producer.produce(topic, value=msg.value, key=msg.key, headers=producer_headers(msg.headers))
        if n % 5 == 0:
            producer.produce(topic, value=b'{"hash":"0x1"}', headers=[("seen_ms", b"1")])
            producer.produce(topic, value=None, headers=[("chain_id", b"1"), ("seen_ms", b"1")])
            producer.produce(topic, value=b"{}", headers=[("chain_id", b"0x1"), ("seen_ms", b"1")])
    producer.flush()

    raws, dead = _consume_all(_config(kafka_bootstrap, topic_raw=topic))

    assert sorted(raws, key=lambda r: r.seen_ms) == good
    assert len(dead) == 12
    assert {d.stage for d in dead} == {STAGE}
    reasons = sorted(d.reason.split(":", 1)[0] for d in dead)
    assert reasons == ["bad header"] * 4 + ["empty value"] * 4 + ["missing header"] * 4
    # Each letter says where its message is, so it can be found and replayed.
    assert len({d.source for d in dead}) == 12
    assert all(d.source.startswith(f"kafka:{topic}/") for d in dead)


@pytest.mark.service
def test_sinks_write_keyed_exact_json(kafka_bootstrap: str) -> None:
    names = {
        "topic_enriched": unique_topic("tx_enriched"),
        "topic_bundles": unique_topic("mev_bundles"),
        "topic_alerts": unique_topic("alerts"),
        "topic_dead_letters": unique_topic("dead"),
    }
    for name in names.values():
        create_topic(kafka_bootstrap, name, partitions=3)
    cfg = _config(kafka_bootstrap, **names)
    etxs = [EnrichedTx(tx=_tx(n), kind="transfer") for n in range(30)]
    detection = Detection(
        "sandwich:1:0xabc", "sandwich", 1, ("0x1", "0x2"), 5, 6, data={"profit": BIG}
    )
    alerts: list[Alert | RuleMatch] = [
        Alert("a1", "detection", "high", "sandwich", 1, ("0x1",), 5, 7, data={"wei": BIG}),
        RuleMatch("r1", "big-transfer", "medium", "big", 10, "0x2", 5, 8),
    ]
    letter = DeadLetter("normalize", "bad hex in field 'value': '0xzz'", "{}", "ws:x", 1, 9)

    flow = Dataflow("sinks")
    kafka_output("enriched", op.input("e", flow, TestingSource(etxs)), cfg, cfg.topic_enriched)
    kafka_output("bundles", op.input("b", flow, TestingSource([detection])), cfg, cfg.topic_bundles)
    kafka_output("alerts", op.input("a", flow, TestingSource(alerts)), cfg, cfg.topic_alerts)
    kafka_output("dead", op.input("d", flow, TestingSource([letter])), cfg, cfg.topic_dead_letters)
    run_main(flow)

    enriched = read_topic(kafka_bootstrap, cfg.topic_enriched)
    decoded = {m.key(): msgspec.json.decode(message_value(m), type=EnrichedTx) for m in enriched}
    assert decoded == {etx.tx.hash.encode(): etx for etx in etxs}
    (bundle,) = read_topic(kafka_bootstrap, cfg.topic_bundles)
    assert bundle.key() == b"sandwich:1:0xabc"
    assert msgspec.json.decode(message_value(bundle), type=Detection).data["profit"] == BIG
    sent = {m.key(): message_value(m) for m in read_topic(kafka_bootstrap, cfg.topic_alerts)}
    assert msgspec.json.decode(sent[b"a1"], type=Alert) == alerts[0]
    assert msgspec.json.decode(sent[b"r1"], type=RuleMatch) == alerts[1]
    (dead,) = read_topic(kafka_bootstrap, cfg.topic_dead_letters)
    assert msgspec.json.decode(message_value(dead), type=DeadLetter) == letter


def _partitions_soon(admin: AdminClient, topic: str, expected: int) -> int:
    """The topic's partition count once metadata shows ``expected`` (it lags the controller)."""
    deadline = time.monotonic() + 15
    while True:
        count = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def _configs_soon(admin: AdminClient, topic: str, key: str, expected: str) -> dict[str, str]:
    """The topic's configs once ``key`` shows ``expected`` (brokers apply changes a bit later)."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    deadline = time.monotonic() + 15
    while True:
        entries = admin.describe_configs([resource])[resource].result(timeout=30)
        configs = {name: entry.value for name, entry in entries.items()}
        if configs[key] == expected or time.monotonic() > deadline:
            return configs
        time.sleep(0.2)


@pytest.mark.service
def test_create_topics_command_is_idempotent_and_grows_partitions(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = unique_topic("t")
    env = {
        "SCORPIUS_KAFKA_BROKERS": kafka_bootstrap,
        **topic_settings(prefix, "RAW", "ENRICHED", "BUNDLES", "ALERTS", "DEAD_LETTERS"),
        "SCORPIUS_KAFKA_PARTITIONS": "3",
        "SCORPIUS_KAFKA_RETENTION_HOURS": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    parser = argparse.ArgumentParser()
    kafka_command.register(parser.add_subparsers())

    def run(*argv: str) -> None:
        args = parser.parse_args(["kafka", "create-topics", *argv])
        assert args.func(args) == 0

    run()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topics = admin.list_topics(timeout=10).topics
    ours = {name: len(topics[name].partitions) for name in topics if name.startswith(prefix)}
    assert ours == {name: 3 for name in env.values() if name.startswith(prefix)}

    run("--partitions", "5", "--retention-hours", "1.5")
    assert _partitions_soon(admin, f"{prefix}.tx_raw", 5) == 5
    configs = _configs_soon(admin, f"{prefix}.tx_raw", "retention.ms", str(int(1.5 * 3_600_000)))
    assert configs["retention.ms"] == str(int(1.5 * 3_600_000))
    assert configs["max.message.bytes"] == str(16 * 1024 * 1024)

    # Fewer partitions than exist: reported, nothing removed.
    cfg = dataclasses.replace(load_config().kafka, partitions=2)
    report = ensure_topics(cfg)
    assert any("tx_raw: has 5 partitions, more than 2; kept" in line for line in report)
    assert _partitions_soon(admin, f"{prefix}.tx_raw", 5) == 5


@pytest.mark.service
def test_processing_flow_reads_tx_raw_when_configured(kafka_bootstrap: str) -> None:
    topic = create_topic(kafka_bootstrap, unique_topic("tx_raw"), partitions=2)
    items = [_item(n) for n in range(10)]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for item in items:
        msg = raw_message(item)
        producer.produce(topic, value=msg.value, key=msg.key, headers=producer_headers(msg.headers))
    producer.produce(topic, value=b"{}", headers=[("seen_ms", b"1")])
    producer.flush()
    cfg = Config(
        source=dataclasses.replace(Config().source, kind="kafka"),
        kafka=_config(kafka_bootstrap, topic_raw=topic),
    )

    flow = Dataflow("processing_source")
    got: list[RawItem | Tx | DeadLetter] = []
    op.output("out", raw_input("source", flow, cfg), TestingSink(got))
    run_main(flow)

    assert sorted((r for r in got if isinstance(r, RawItem)), key=lambda r: r.seen_ms) == items
    assert [d.reason.split(":")[0] for d in got if isinstance(d, DeadLetter)] == ["missing header"]


@pytest.mark.service
def test_ingest_command_sends_the_configured_replay_to_tx_raw(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = create_topic(kafka_bootstrap, unique_topic("tx_raw"), partitions=2)
    items = [_item(n, chain_id=10) for n in range(25)]
    recording = tmp_path / "recorded.jsonl"
    recording.write_bytes(
        b"".join(
            msgspec.json.encode(
                {
                    "kind": i.kind,
                    "chain_id": i.chain_id,
                    "source": i.source,
                    "seen_ms": i.seen_ms,
                    "payload": msgspec.Raw(i.payload),
                }
            )
            + b"\n"
            for i in items
        )
    )
    monkeypatch.setenv("SCORPIUS_SOURCE_KIND", "replay")
    monkeypatch.setenv("SCORPIUS_SOURCE_REPLAY_PATH", str(recording))
    monkeypatch.setenv("SCORPIUS_KAFKA_BROKERS", kafka_bootstrap)
    monkeypatch.setenv("SCORPIUS_KAFKA_TOPIC_RAW", topic)
    parser = argparse.ArgumentParser()
    kafka_command.register(parser.add_subparsers())
    args = parser.parse_args(["kafka", "ingest"])

    assert args.func(args) == 0

    raws, dead = _consume_all(_config(kafka_bootstrap, topic_raw=topic))
    assert sorted(raws, key=lambda r: r.seen_ms) == items
    assert dead == []


def test_ingest_refuses_to_read_its_own_output() -> None:
    cfg = Config(source=dataclasses.replace(Config().source, kind="kafka"))
    with pytest.raises(ConfigError, match="SCORPIUS_SOURCE_KIND"):
        build_ingest_flow(cfg)
