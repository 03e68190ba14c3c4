"""The production path on a real Kafka broker: one consumer per API process fans the flow's topics
out to stream clients (with their filters), and rule sets published through the API reach a
worker's engine through the compacted rules topic, and leave it again, without a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from websockets.asyncio.client import connect

from connectors.rule_sets import RuleTopicFollower
from flows.config import load_config
from flows.wiring.kafka import ensure_topics
from flows.wiring.rules import engine_for, rules_engine_factory
from operators.enrich import enrich
from operators.records import Alert, DeadLetter, encode_json
from tests.connectors.api.server import (
    ROUTED_RULE,
    ROUTED_RULE_ID,
    RunningApi,
    cli_process,
    flow_alert_env,
    routes_take_effect,
    running_api,
    upload_and_see_a_match,
)
from tests.connectors.samples import make_tx
from tests.services.http_fakes import FakeApis
from tests.services.kafka import topic_settings, unique_topic

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def topics_env(kafka_bootstrap: str) -> dict[str, str]:
    prefix = unique_topic("api")
    env = {
        "SCORPIUS_KAFKA_BROKERS": kafka_bootstrap,
        **topic_settings(prefix, "ALERTS", "ENRICHED", "BUNDLES", "DEAD_LETTERS", "RAW", "RULES"),
        **topic_settings(prefix, "ALERT_DELIVERIES"),
        "SCORPIUS_KAFKA_PARTITIONS": "2",
    }
    ensure_topics(load_config(env).kafka)
    return env


@pytest.fixture(scope="module")
def kafka_api(
    topics_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApi]:
    env = {**topics_env, "SCORPIUS_API_FEED": "kafka"}
    with running_api(tmp_path_factory.mktemp("api-kafka"), env) as served:
        deadline = time.monotonic() + 60
        while not httpx.get(f"{served.url}/health").json()["feed_ok"]:
            assert time.monotonic() < deadline, "the API's consumer got no partitions"
            time.sleep(0.2)
        yield served


def _alert(i: int, chain: int) -> Alert:
    return Alert(
        key=f"kafka-{i}",
        origin="detector:sandwich_attempt",
        severity="high",
        title=f"alert {i}",
        chain_id=chain,
        tx_hashes=(f"0x{i:064x}",),
        first_seen_ms=1,
        created_ms=int(time.time() * 1000),
    )


def test_one_consumer_fans_the_topics_out_to_filtered_clients(
    kafka_api: RunningApi, topics_env: dict[str, str]
) -> None:
    key = kafka_api.key("viewer")
    producer = Producer({"bootstrap.servers": topics_env["SCORPIUS_KAFKA_BROKERS"]})

    async def scenario() -> None:
        ws = kafka_api.ws
        async with (
            connect(f"{ws}/ws/alerts?api_key={key}&chain=8453") as alerts_a,
            connect(f"{ws}/ws/alerts?api_key={key}&chain=8453") as alerts_b,
            connect(f"{ws}/ws/transactions?api_key={key}&chain=10") as txs,
        ):
            for client in (alerts_a, alerts_b, txs):
                assert json.loads(await client.recv())["type"] == "hello"
            for i, chain in enumerate([1, 8453, 1, 8453]):
                alert = _alert(i, chain)
                producer.produce(
                    topics_env["SCORPIUS_KAFKA_TOPIC_ALERTS"],
                    key=alert.key.encode(),
                    value=encode_json(alert),
                )
            producer.produce(topics_env["SCORPIUS_KAFKA_TOPIC_ALERTS"], value=b"{not json")
            etx = enrich(make_tx(7, chain_id=10))
            producer.produce(
                topics_env["SCORPIUS_KAFKA_TOPIC_ENRICHED"],
                key=etx.tx.hash.encode(),
                value=encode_json(etx),
            )
            letter = DeadLetter(stage="normalize", reason="test", payload="x")
            producer.produce(
                topics_env["SCORPIUS_KAFKA_TOPIC_DEAD_LETTERS"], value=encode_json(letter)
            )
            producer.flush(30)
            for client in (alerts_a, alerts_b):
                got = [json.loads(await asyncio.wait_for(client.recv(), 30)) for _ in range(2)]
                assert sorted(m["key"] for m in got) == ["kafka-1", "kafka-3"]
            tx = json.loads(await asyncio.wait_for(txs.recv(), 30))
            assert tx["type"] == "tx" and tx["key"] == etx.tx.hash

    asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while True:
        with httpx.Client(base_url=kafka_api.url) as c:
            status = kafka_api.ctx.hub.status()
            feed_errors = [
                line
                for line in c.get("/metrics").text.splitlines()
                if line.startswith('scorpius_api_feed_errors_total{feed="kafka"}')
            ]
        if status["dead_letters"]["by_stage"].get("normalize") and feed_errors:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert float(feed_errors[0].rsplit(" ", 1)[1]) >= 1


def test_rule_sets_reach_a_worker_through_the_compacted_topic(
    kafka_api: RunningApi, topics_env: dict[str, str], tmp_path: Path
) -> None:
    admin = kafka_api.key("admin")
    cfg = load_config({**topics_env, "SCORPIUS_RULES_DIR": str(tmp_path / "worker-rules")})
    cfg = dataclasses.replace(cfg, rules=dataclasses.replace(cfg.rules, cache_dir=""))
    # What each worker of the flow runs with SCORPIUS_RULES_FOLLOW_TOPIC (flows/wiring/rules.py): a
    # follower of the rules topic writing the folder its engine hot-reloads.
    follower = RuleTopicFollower(cfg.kafka.client_settings(), cfg.kafka.topic_rules, cfg.rules.dir)
    follower.start()
    engine = engine_for(cfg.rules)
    rule = "rules:\n  - id: kafka-big\n    severity: high\n    when: [value_eth >= 1]\n"
    big = enrich(make_tx(3, value=5 * 10**18))

    def matches() -> list[Any]:
        engine.reload()
        found, _ = engine.evaluate([big])
        return [m.rule_id for m in found]

    def soon(expected: list[str]) -> None:
        deadline = time.monotonic() + 10
        while matches() != expected:
            assert time.monotonic() < deadline, f"worker still has {matches()}"
            time.sleep(0.1)

    try:
        with httpx.Client(base_url=kafka_api.url, headers={"X-API-Key": admin}, timeout=30) as c:
            assert c.put("/api/v1/rules/big", json={"source": rule}).status_code == 200
            soon(["kafka-big"])
            assert c.post("/api/v1/rules/big/disable").status_code == 200
            soon([])
            assert c.post("/api/v1/rules/big/enable").status_code == 200
            soon(["kafka-big"])
            assert c.delete("/api/v1/rules/big").status_code == 204
            soon([])
    finally:
        follower.stop()
    # The flow's factory starts the same follower when configured to.
    following = dataclasses.replace(cfg.rules, follow_topic=True)
    assert rules_engine_factory(following, cfg.kafka).func is not engine_for  # type: ignore[attr-defined]
    assert rules_engine_factory(cfg.rules, cfg.kafka).func is engine_for  # type: ignore[attr-defined]


def _following_flow_env(topics_env: dict[str, str], tmp_path: Path, **extra: str) -> dict[str, str]:
    """The flow as a production worker runs: following the rules topic, publishing to Kafka."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    env.update(topics_env)
    env.update(
        SCORPIUS_KAFKA_PUBLISH="true",
        SCORPIUS_RULES_FOLLOW_TOPIC="true",
        SCORPIUS_RULES_DIR=str(tmp_path / "worker-rules"),
        SCORPIUS_RULES_CACHE_DIR="",
        SCORPIUS_OUTPUT_DIR=str(tmp_path / "out"),
        SCORPIUS_OUTPUT_CONSOLE="false",
        **extra,
    )
    return env


FLOW_RULE = """
rules:
  - id: kafka-live-swap
    severity: high
    message: "live swap by {sender}"
    when:
      - kind == swap
"""


@pytest.mark.slow
def test_a_rule_uploaded_through_the_api_matches_in_a_running_flow_within_5s(
    kafka_api: RunningApi, topics_env: dict[str, str], tmp_path: Path
) -> None:
    """Production path end to end: the flow (paced replay, following the rules topic, publishing
    to Kafka) runs as its own process; the rule goes in through the API, its matches come back
    through the flow's alerts topic and the API's consumer to a stream client."""
    admin = kafka_api.key("admin")

    async def scenario() -> float:
        ws = kafka_api.ws
        async with connect(f"{ws}/ws/transactions?api_key={admin}&batch=1") as txs:
            assert json.loads(await txs.recv())["type"] == "hello"
            # The flow is up and publishing when its enriched txs reach the API.
            assert json.loads(await asyncio.wait_for(txs.recv(), 120))
        return await upload_and_see_a_match(
            ws, kafka_api.url, admin, "live", FLOW_RULE, "kafka-live-swap"
        )

    env = _following_flow_env(topics_env, tmp_path, SCORPIUS_SOURCE_REPLAY_RATE="150")
    with cli_process(["run", "--quiet"], env, tmp_path / "flow.log") as flow_log:
        took = asyncio.run(scenario())
    assert took <= 5.0, flow_log[0][-2000:]
    assert (tmp_path / "worker-rules" / "live.yaml").read_text() == FLOW_RULE


@pytest.mark.slow
def test_routes_edited_through_the_api_reach_a_running_flow_through_the_rules_topic(
    kafka_api: RunningApi, topics_env: dict[str, str], tmp_path: Path, fake_apis: FakeApis
) -> None:
    """The flow's workers follow the rules topic; the routes document published on it goes to
    their routes file, which the alert sink re-reads: a route created through the API sends the
    rule's alerts to the webhook within 5 s, and deleting it stops them."""
    admin = kafka_api.key("admin")
    with httpx.Client(base_url=kafka_api.url, headers={"X-API-Key": admin}, timeout=30) as c:
        assert c.put("/api/v1/routes", json={"routes": []}).status_code == 200
        assert c.put("/api/v1/rules/routed", json={"source": ROUTED_RULE}).status_code == 200
    env = _following_flow_env(
        topics_env,
        tmp_path,
        SCORPIUS_SOURCE_REPLAY_RATE="100",
        **flow_alert_env(fake_apis, "/hooks/kafka"),
    )
    with cli_process(["run", "--quiet"], env, tmp_path / "flow.log") as flow_log:
        took, stopped, _ = asyncio.run(
            routes_take_effect(
                kafka_api.ws, kafka_api.url, admin, fake_apis, "/hooks/kafka", ROUTED_RULE_ID
            )
        )
    assert took <= 5.0, flow_log[0][-2000:]
    assert stopped <= 5.0
    assert (tmp_path / "out" / "alert_routes.yaml").read_text().strip() == "routes: []"
