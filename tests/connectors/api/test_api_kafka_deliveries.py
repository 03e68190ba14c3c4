"""Alert delivery status on the production path: a flow publishing to Kafka also publishes every
delivery outcome to the ``alert_deliveries`` topic, and an API process on the Kafka feed, which
cannot read the flow's files, answers ``GET /api/v1/alerts/{key}/deliveries`` from it. Kafka
being down never holds back a delivery: the outcome is counted as not published, and delivery
goes on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from connectors.alerts.delivery_topic import DeliveryTopic
from connectors.alerts.log import JsonlLog
from connectors.api.deliveries import deliveries
from flows.config import load_config
from flows.wiring.alerts import build_alert_sink
from flows.wiring.kafka import ensure_topics, record_sink
from operators.records import Alert
from tests.connectors.api.server import cli_process, flow_alert_env, no_leak, running_api
from tests.services.http_fakes import FakeApis, server_error
from tests.services.kafka import topic_settings, unique_topic
from tests.services.ports import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.service

SLACK_SECRET = "slack-secret-part"


def _sink_errors(topic: str) -> float:
    return REGISTRY.get_sample_value("scorpius_sink_errors_total", {"sink": f"kafka:{topic}"}) or 0


@pytest.mark.slow
def test_a_running_flows_deliveries_reach_an_api_on_the_kafka_feed(
    kafka_bootstrap: str, tmp_path: Path, fake_apis: FakeApis
) -> None:
    prefix = unique_topic("deliveries")
    topics = {
        "SCORPIUS_KAFKA_BROKERS": kafka_bootstrap,
        **topic_settings(prefix, "ALERTS", "ENRICHED", "BUNDLES", "DEAD_LETTERS", "RAW", "RULES"),
        **topic_settings(prefix, "ALERT_DELIVERIES"),
        "SCORPIUS_KAFKA_PARTITIONS": "2",
    }
    assert any("alert_deliveries" in line for line in ensure_topics(load_config(topics).kafka))

    # The flow as a production worker runs it: its own process and output folder, publishing to
    # Kafka, delivering alerts to a webhook that takes them and a Slack webhook that fails.
    fake_apis.answer_always("/services/", server_error(503))
    flow_out = tmp_path / "flow"
    flow_env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    flow_env.update(
        topics,
        SCORPIUS_KAFKA_PUBLISH="true",
        SCORPIUS_OUTPUT_DIR=str(flow_out),
        SCORPIUS_OUTPUT_CONSOLE="false",
        SCORPIUS_ALERTS_SLACK_WEBHOOK_URL=f"{fake_apis.url}/services/T0/B0/{SLACK_SECRET}",
        SCORPIUS_ALERTS_MAX_ATTEMPTS="1",
        **flow_alert_env(fake_apis, "/hooks/flow"),
    )
    # The API process shares nothing with the flow but Kafka: its delivery-log setting names a
    # file that does not exist.
    nowhere = tmp_path / "not-shared" / "alert_deliveries.jsonl"
    api_env = {
        **topics,
        "SCORPIUS_API_FEED": "kafka",
        "SCORPIUS_ALERTS_DELIVERY_LOG": str(nowhere),
    }
    with running_api(tmp_path / "api", api_env) as api:
        assert api.ctx.settings.delivery_log == str(nowhere)
        wait_until(lambda: httpx.get(f"{api.url}/health").json()["feed_ok"], 60, "partitions")
        viewer = api.key("viewer")
        with httpx.Client(base_url=api.url, headers={"X-API-Key": viewer}, timeout=30) as c:

            def answer(key: str) -> httpx.Response:
                return c.get(f"/api/v1/alerts/{key}/deliveries")

            def both_final(key: str) -> list[dict[str, object]] | None:
                got = answer(key)
                if got.status_code != 200:
                    return None
                by_channel = {d["channel"]: d["status"] for d in got.json()["deliveries"]}
                done = by_channel == {"webhook": "delivered", "slack": "dead_lettered"}
                return got.json()["deliveries"] if done else None

            found = None
            with cli_process(["run", "--quiet"], flow_env, tmp_path / "flow.log") as flow_log:
                delivered = wait_until(
                    lambda: fake_apis.accepted("/hooks/flow"), 90, "the flow's first delivery"
                )
                key = delivered[0].json()["alert"]["key"]
                deadline = time.monotonic() + 30
                while found is None and time.monotonic() < deadline:
                    found = both_final(key)
                    time.sleep(0.1)
            assert found is not None, f"not both statuses via the API; flow: {flow_log[0][-3000:]}"
            # After the flow is gone, the API answers the same as the flow's own delivery log.
            flow_says = deliveries(flow_out / "alert_deliveries.jsonl", key)
            assert found == flow_says
            slack = next(d for d in found if d["channel"] == "slack")
            assert slack["attempts"] == 1 and "503" in str(slack["reason"])
            assert not nowhere.exists()
            text = answer(key).text
            no_leak(text, SLACK_SECRET)
            assert answer("detection:never-seen").status_code == 404


def test_kafka_down_does_not_hold_back_or_stop_deliveries(
    tmp_path: Path, fake_apis: FakeApis
) -> None:
    """The broker the flow publishes to does not answer: every alert is still delivered at once,
    and every outcome is in the delivery log and counted as not published to the topic."""
    topic = unique_topic("deliveries-down")
    env = {
        "SCORPIUS_KAFKA_BROKERS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "SCORPIUS_KAFKA_PUBLISH": "true",
        "SCORPIUS_KAFKA_TOPIC_ALERT_DELIVERIES": topic,
        # librdkafka gives up on a message after this long (default 5 min).
        "SCORPIUS_KAFKA_EXTRA": "message.timeout.ms=1000",
        **flow_alert_env(fake_apis, "/hooks/down"),
    }
    cfg = load_config(env)
    out = tmp_path / "out"
    sink = build_alert_sink(
        cfg.alerts, out, dead_letter=JsonlLog(out / "dead.jsonl").write, kafka=cfg.kafka
    )
    assert sink is not None
    before = _sink_errors(topic)
    part = sink.build_part("alerts_deliver", "alerts", None)
    now = int(time.time() * 1000)
    alerts = [
        Alert(
            key=f"down-{i}",
            origin="detector:sandwich",
            severity="critical",
            title="sandwich",
            chain_id=1,
            tx_hashes=(f"0x{i:064x}",),
            first_seen_ms=now,
            created_ms=now,
        )
        for i in range(20)
    ]
    try:
        part.write_batch(alerts[:10])
        wait_until(lambda: len(fake_apis.accepted("/hooks/down")) == 10, 10, "ten deliveries")
        # The first outcomes' publishing has failed (librdkafka's timeout) ...
        wait_until(lambda: _sink_errors(topic) - before >= 10, 15, "failures counted")
        # ... and delivery goes on.
        part.write_batch(alerts[10:])
        wait_until(lambda: len(fake_apis.accepted("/hooks/down")) == 20, 10, "twenty deliveries")
    finally:
        started = time.monotonic()
        part.close()
        assert time.monotonic() - started < 10
    assert [d["status"] for d in deliveries(out / "alert_deliveries.jsonl", "down-19")] == [
        "delivered"
    ]
    wait_until(lambda: _sink_errors(topic) - before == 20, 10, "every outcome counted")


def test_outcomes_beyond_the_queue_are_counted_not_waited_for() -> None:
    """``write`` never blocks: with the publisher's queue full, an outcome is counted and logged."""
    topic = unique_topic("deliveries-full")
    env = {
        "SCORPIUS_KAFKA_BROKERS": f"127.0.0.1:{free_port()}",
        "SCORPIUS_KAFKA_EXTRA": "message.timeout.ms=500",
    }
    cfg = load_config(env).kafka
    publisher = DeliveryTopic(record_sink(cfg, topic), topic, queue_size=3, close_timeout_s=0.5)
    before = _sink_errors(topic)
    started = time.monotonic()
    for i in range(10):  # not started: nothing takes from the queue
        publisher.write({"key": f"k{i}", "outcome": "sent"})
    assert time.monotonic() - started < 1
    assert _sink_errors(topic) - before == 7
    publisher.start()
    publisher.stop()
    publisher.write({"key": "late", "outcome": "sent"})  # after close: counted too
    # The three queued ones failed to reach the (absent) broker, and were counted as well.
    wait_until(lambda: _sink_errors(topic) - before == 11, 10, "every outcome counted")
