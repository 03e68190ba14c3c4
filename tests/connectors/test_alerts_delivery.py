"""Delivery behaviour against the wire-format server: retry timing, dedup, limits, dead letters."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from connectors.alerts.dispatcher import DispatcherState
from operators.metrics import ALERTS_DEDUPED, ALERTS_RETRIED
from tests.connectors.alert_helpers import (
    DISCORD_PATH,
    FAST,
    SLACK_WEBHOOK_PATH,
    alert,
    config,
    harness,
    wait_until,
)
from tests.services import http_fakes
from tests.services.http_fakes import FakeApis

pytestmark = pytest.mark.service


def routes(tmp_path: Path, text: str) -> str:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    return str(path)


SLACK_ONLY = "routes:\n  - name: all\n    send: [slack]\n"


def test_slack_429_is_retried_no_sooner_than_retry_after(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    fake_apis.script(SLACK_WEBHOOK_PATH, http_fakes.slack_webhook_ratelimited(1))
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)))
    h.run(alert(), sent=1)
    first, second = fake_apis.received(SLACK_WEBHOOK_PATH)
    # The backoff alone would be <= 0.05 s; the server asked for 1 s.
    assert second.at - first.at >= 1.0
    (retry,) = h.outcomes("retry")
    assert retry["retry_in_s"] >= 1.0 and "HTTP 429" in retry["error"]
    assert h.dead == []


def test_delivery_latency_is_its_own_series_not_the_flows_alert_latency(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    def observed(output: str) -> float:
        count = REGISTRY.get_sample_value("scorpius_end_to_end_seconds_count", {"output": output})
        return count or 0.0

    delivered, created = observed("alert_delivered"), observed("alert")
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)))
    h.run(alert(), sent=1)
    assert observed("alert_delivered") == delivered + 1
    assert observed("alert") == created


def test_discord_fractional_retry_after_is_honoured(fake_apis: FakeApis, tmp_path: Path) -> None:
    fake_apis.script(DISCORD_PATH, http_fakes.discord_ratelimited(0.4))
    cfg = config(fake_apis.url, routes_path=routes(tmp_path, "routes:\n  - send: [discord]\n"))
    h = harness(cfg)
    h.run(alert(), sent=1)
    first, second = fake_apis.received(DISCORD_PATH)
    assert second.at - first.at >= 0.4
    (retry,) = h.outcomes("retry")
    assert retry["retry_in_s"] == 0.4  # the JSON's 0.4, not the header's rounded 1


def test_backoff_grows_exponentially_with_jitter_between_attempts(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    fake_apis.script(SLACK_WEBHOOK_PATH, http_fakes.server_error(503), http_fakes.server_error(502))
    policy = dataclasses.replace(FAST, max_attempts=4, backoff_base_s=0.2, backoff_max_s=5.0)
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)), policy)
    retried = ALERTS_RETRIED.labels("slack")._value.get()
    h.run(alert(), sent=1)
    a, b, c = fake_apis.received(SLACK_WEBHOOK_PATH)
    # Step n is base * 2**(n-1); the jittered wait lies in [step / 2, step].
    waits = [r["retry_in_s"] for r in h.outcomes("retry")]
    assert 0.1 <= waits[0] <= 0.2 and 0.2 <= waits[1] <= 0.4, waits
    assert b.at - a.at >= waits[0] and c.at - b.at >= waits[1]
    assert ALERTS_RETRIED.labels("slack")._value.get() - retried == 2


def test_after_the_last_retry_the_alert_is_dead_lettered(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    fake_apis.answer_always(SLACK_WEBHOOK_PATH, http_fakes.server_error(500))
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)))
    a = alert()
    h.run(a, dead=1)
    assert len(fake_apis.received(SLACK_WEBHOOK_PATH)) == FAST.max_attempts
    (letter,) = h.dead
    assert letter.stage == "alerts"
    assert letter.reason.startswith("alert undeliverable: slack failed 3 attempts: slack webhook")
    assert "HTTP 500" in letter.reason
    payload = json.loads(letter.payload)
    assert payload["alert"]["key"] == a.key and payload["channel"] == "slack"
    assert payload["alert"]["data"]["amount"] == 2**255 + 1
    assert [r["outcome"] for r in h.log] == ["retry", "retry", "dead_letter"]


def test_a_permanent_error_is_dead_lettered_without_retry(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    fake_apis.script("/api/chat.postMessage", http_fakes.slack_api_error("channel_not_found"))
    text = "routes:\n  - send: [{channel: slack_api, to: [C0GONE]}]\n"
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, text)))
    h.run(alert(), dead=1)
    assert len(fake_apis.received("/api/chat.postMessage")) == 1
    assert h.dead[0].reason.startswith("alert rejected: slack_api: ")
    assert "channel_not_found" in h.dead[0].reason


def test_the_same_alert_key_is_delivered_once_per_target_inside_the_window(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    text = "routes:\n  - send: [slack, {channel: slack_api, to: [C1, C2]}]\n"
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, text)))
    deduped = ALERTS_DEDUPED.labels("slack")._value.get()
    h.dispatcher.start()
    for _ in range(20):
        h.dispatcher.submit(alert(key="rule:drainer:0xsame"))
    h.dispatcher.submit(alert(key="rule:drainer:0xother"))
    h.dispatcher.close(5.0)
    assert len(fake_apis.received(SLACK_WEBHOOK_PATH)) == 2
    channels = sorted(r.json()["channel"] for r in fake_apis.received("/api/chat.postMessage"))
    assert channels == ["C1", "C1", "C2", "C2"]
    assert ALERTS_DEDUPED.labels("slack")._value.get() - deduped == 19
    assert len(h.outcomes("deduped")) == 19 * 3


def test_dedup_forgets_after_the_window(fake_apis: FakeApis, tmp_path: Path) -> None:
    policy = dataclasses.replace(FAST, dedup_window_s=0.3)
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)), policy)
    h.dispatcher.start()
    h.dispatcher.submit(alert())
    h.dispatcher.submit(alert())
    wait_until(lambda: len(h.outcomes("sent")) == 1)
    time.sleep(0.35)
    h.dispatcher.submit(alert())
    h.dispatcher.close(5.0)
    assert len(fake_apis.received(SLACK_WEBHOOK_PATH)) == 2


def test_per_recipient_rate_limit_spaces_one_recipient_without_delaying_another(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    text = (
        "routes:\n  - send: [{channel: slack_api, to: [C_BUSY]}]\n    when: {tags_any: [busy]}\n"
        "  - send: [{channel: slack_api, to: [C_QUIET]}]\n    when: {tags_any: [quiet]}\n"
    )
    policy = dataclasses.replace(FAST, recipient_rate_per_s=4.0, recipient_burst=1)
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, text)), policy)
    to_busy = [alert(key=f"busy{i}", tags=("busy",)) for i in range(4)]
    h.run(*to_busy, alert(key="quiet0", tags=("quiet",)), sent=5)
    busy, quiet = h.started("C_BUSY"), h.started("C_QUIET")
    # 4 per second, burst 1: each send to C_BUSY starts 0.25 s after the one before.
    assert len(busy) == 4
    gaps = [b - a for a, b in itertools.pairwise(busy)]
    assert all(g >= 0.24 for g in gaps), gaps
    # C_QUIET is not queued behind C_BUSY's wait: it goes before C_BUSY's second send.
    assert busy[0] < quiet[0] < busy[1]
    channels = [r.json()["channel"] for r in fake_apis.received("/api/chat.postMessage")]
    assert sorted(channels) == ["C_BUSY"] * 4 + ["C_QUIET"]


def test_a_429_pauses_the_recipient_for_the_following_alerts(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    fake_apis.script(SLACK_WEBHOOK_PATH, http_fakes.slack_webhook_ratelimited(1))
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)))
    h.dispatcher.start()
    h.dispatcher.submit(alert(key="a1"))
    wait_until(lambda: len(fake_apis.received(SLACK_WEBHOOK_PATH)) == 1)
    h.dispatcher.submit(alert(key="a2"))
    wait_until(lambda: len(h.outcomes("sent")) == 2)
    h.dispatcher.close(1.0)
    first, *rest = fake_apis.received(SLACK_WEBHOOK_PATH)
    assert len(rest) == 2 and all(r.at - first.at >= 1.0 for r in rest)


def test_a_full_queue_dead_letters_at_once_instead_of_blocking(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    fake_apis.answer_always(SLACK_WEBHOOK_PATH, http_fakes.hang(30))
    policy = dataclasses.replace(FAST, queue_size=3)
    h = harness(config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY)), policy)
    h.dispatcher.start()
    for i in range(10):
        h.dispatcher.submit(alert(key=f"k{i}"))
    full = [d for d in h.dead if d.reason.startswith("alert queue full: slack holds 3")]
    assert len(full) == 7
    h.dispatcher.close(0.2)
    shutdown = [d for d in h.dead if d.reason.startswith("alert undelivered at shutdown: slack")]
    assert len(shutdown) == 3
    keys = sorted(json.loads(d.payload)["alert"]["key"] for d in h.dead)
    assert keys == sorted(f"k{i}" for i in range(10))  # every alert accounted for, once


def test_snapshot_keeps_dedup_and_requeues_unfinished_deliveries(
    fake_apis: FakeApis, tmp_path: Path
) -> None:
    cfg = config(fake_apis.url, routes_path=routes(tmp_path, SLACK_ONLY))
    fake_apis.answer_always(SLACK_WEBHOOK_PATH, http_fakes.hang(30))
    first = harness(cfg)
    first.dispatcher.submit(alert(key="pending"))  # not started: stays queued
    state = first.dispatcher.snapshot()
    assert [(a.key, t.channel) for a, t, _ in state.pending] == [("pending", "slack")]
    fake_apis.reset()

    resumed = harness(cfg)
    resumed.dispatcher.restore(DispatcherState(seen={**state.seen}, pending=state.pending))
    resumed.dispatcher.start()
    resumed.dispatcher.submit(alert(key="pending"))  # a replayed duplicate after recovery
    resumed.dispatcher.close(5.0)
    assert len(fake_apis.received(SLACK_WEBHOOK_PATH)) == 1
    assert len(resumed.outcomes("deduped")) == 1
