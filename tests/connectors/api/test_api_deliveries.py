"""Each alert's delivery status per channel through the API: the flow's alert sink delivers one
alert to a webhook that takes it and a Slack webhook that keeps failing; the API answers
delivered for one and dead-lettered, with the reason, for the other."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from connectors.alerts.log import JsonlLog
from flows.config import load_config
from flows.wiring.alerts import build_alert_sink
from operators.records import Alert
from tests.connectors.api.server import no_leak, running_api
from tests.services.http_fakes import FakeApis, server_error
from tests.waiting import wait_until

pytestmark = pytest.mark.service


def test_an_alerts_delivery_status_per_channel(tmp_path: Path, fake_apis: FakeApis) -> None:
    out = tmp_path / "out"
    env = {
        "SCORPIUS_OUTPUT_DIR": str(out),
        "SCORPIUS_ALERTS_WEBHOOK_URL": f"{fake_apis.url}/hooks/deliveries",
        "SCORPIUS_ALERTS_SLACK_WEBHOOK_URL": f"{fake_apis.url}/services/T0/B0/secret-part",
        "SCORPIUS_ALERTS_MAX_ATTEMPTS": "2",
        "SCORPIUS_ALERTS_BACKOFF_BASE_S": "0.05",
    }
    fake_apis.answer_always("/services/", server_error(503))
    cfg = load_config(env)
    sink = build_alert_sink(cfg.alerts, out, dead_letter=JsonlLog(out / "dead.jsonl").write)
    assert sink is not None
    alert = Alert(
        key="detection:sandwich:1:0xabc",
        origin="detector:sandwich",
        severity="critical",
        title="sandwich",
        chain_id=1,
        tx_hashes=("0xabc",),
        first_seen_ms=int(time.time() * 1000),
        created_ms=int(time.time() * 1000),
    )
    part = sink.build_part("alerts_deliver", "alerts", None)
    try:
        part.write_batch([alert])
        wait_until(lambda: len(fake_apis.received("/services/")) == 2, 10, "two Slack attempts")
        wait_until(lambda: fake_apis.accepted("/hooks/deliveries"), 10, "the webhook delivery")
    finally:
        part.close()

    with running_api(out, env) as api:
        viewer = api.key("viewer")
        with httpx.Client(base_url=api.url, headers={"X-API-Key": viewer}, timeout=30) as c:
            answer = c.get(f"/api/v1/alerts/{alert.key}/deliveries")
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["key"] == alert.key
            by_channel = {d["channel"]: d for d in body["deliveries"]}
            assert by_channel["webhook"]["status"] == "delivered"
            assert by_channel["webhook"]["reason"] is None
            slack = by_channel["slack"]
            assert slack["status"] == "dead_lettered" and slack["attempts"] == 2
            assert "503" in slack["reason"]
            no_leak(answer.text, "secret-part")
            missing = c.get("/api/v1/alerts/detection:nothing/deliveries")
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"
            too_long = c.get(f"/api/v1/alerts/{'k' * 400}/deliveries")
            assert too_long.status_code == 422
