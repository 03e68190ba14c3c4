"""Fault (e): a storm of Slack 429s while a bytewax flow hands alerts to the alert sink.

For ``STORM_S`` seconds the Slack fake answers every incoming-webhook request 429 with
``Retry-After: 1`` and every ``chat.postMessage`` 429 ``ratelimited`` with ``Retry-After: 2``
(both as Slack does). The flow submits every alert at the storm's start, some keys twice (a replay
after recovery). The delivery policy is the production default (5 attempts, backoff from 1 s);
only the token buckets are raised so the test does not wait out Slack's 1 message/s.

What went in: every (alert key, channel) the routes select. What came out: the requests the fake
answered 2xx (what Slack would have posted), plus the alert dead letters. Lost: a delivery in
neither; duplicated: one posted twice, or posted and dead-lettered. A second run allows only 2
attempts, so the first alerts run out of them during the storm and must be dead-lettered.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from connectors.alerts.log import JsonlLog
from connectors.alerts.sink import for_alert_sink
from flows.wiring.alerts import build_alert_sink
from operators.records import DeadLetter
from tests.connectors.alert_helpers import SLACK_WEBHOOK_PATH, alert, config
from tests.faults.accounting import tally
from tests.services import http_fakes
from tests.services.http_fakes import FakeApis, Recorded

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.fault]

STORM_S = 8.0
ALERTS = 40
REPLAYED = 10  # keys submitted a second time, as a flow resumed from recovery would
API_PATH = "/api/chat.postMessage"
ROUTES = "routes:\n  - send: [slack, {channel: slack_api, to: [C0STORM]}]\n"
KEY_IN_SLACK_TEXT = re.compile(r"key `([^`]+)`")


def posted_key(request: Recorded) -> str:
    """The alert key of a Slack message (the template's context line carries it)."""
    body = request.json()
    blocks = body["blocks"] if isinstance(body.get("blocks"), list) else json.loads(body["blocks"])
    found = KEY_IN_SLACK_TEXT.search(blocks[-1]["elements"][0]["text"])
    assert found, f"no alert key in {body}"
    return found.group(1)


@pytest.mark.parametrize(
    "max_attempts",
    [
        5,  # the default: the storm ends before any alert runs out of attempts
        2,  # the storm outlasts the retries of the first alerts: they are dead-lettered
    ],
)
def test_every_alert_is_posted_once_or_dead_lettered_through_a_429_storm(
    fake_apis: FakeApis, tmp_path: Path, max_attempts: int
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    cfg = config(
        fake_apis.url,
        routes_path=str(routes),
        channel_rate_per_s=50.0,
        channel_burst=50,
        recipient_rate_per_s=50.0,
        recipient_burst=50,
        max_attempts=max_attempts,
        drain_timeout_s=60.0,  # the run ends once every delivery has finished, well before this
    )
    dead_path = tmp_path / "alert_dead_letters.jsonl"
    sink = build_alert_sink(cfg, tmp_path, dead_letter=JsonlLog(dead_path).write)
    assert sink is not None
    keys = [f"storm-{i:03d}" for i in range(ALERTS)]
    submitted = [alert(key=k, title=f"storm alert {k}") for k in keys]
    submitted += submitted[:REPLAYED]
    flow = Dataflow("slack_429_storm")
    op.output(
        "deliver",
        op.map("for_sink", op.input("in", flow, TestingSource(submitted)), for_alert_sink),
        sink,
    )

    fake_apis.storm(SLACK_WEBHOOK_PATH, http_fakes.slack_webhook_ratelimited(1), STORM_S)
    fake_apis.storm(API_PATH, http_fakes.slack_api_ratelimited(2), STORM_S)
    run_main(flow)  # returns after the sink's drain: every delivery sent or dead-lettered

    rate_limited = [r for r in fake_apis.received("/") if r not in fake_apis.accepted("/")]
    for path in (SLACK_WEBHOOK_PATH, API_PATH):
        hits = [r for r in rate_limited if r.path.startswith(path)]
        assert len(hits) >= 3, f"the storm did not hit {path}"
        # Nothing got through while Slack was refusing: every post came after the storm.
        assert min(r.at for r in fake_apis.accepted(path)) >= max(r.at for r in hits)
    posted = [f"{posted_key(r)}|slack" for r in fake_apis.accepted(SLACK_WEBHOOK_PATH)]
    posted += [f"{posted_key(r)}|slack_api" for r in fake_apis.accepted(API_PATH)]
    letters = (
        [DeadLetter(**json.loads(line)) for line in dead_path.read_text().splitlines()]
        if dead_path.exists()
        else []
    )
    for letter in letters:
        assert letter.stage == "alerts" and letter.reason.startswith("alert undeliverable: ")
        assert "HTTP 429" in letter.reason, letter.reason
    dead = [
        f"{json.loads(d.payload)['alert']['key']}|{json.loads(d.payload)['channel']}"
        for d in letters
    ]
    expected = [f"{k}|{channel}" for k in keys for channel in ("slack", "slack_api")]
    if max_attempts == 2:
        assert dead, "no alert ran out of attempts: the dead-letter path was not exercised"
    result = tally(f"slack 429 storm (max {max_attempts} attempts)", expected, posted + dead)
    print(
        f"\n{len(rate_limited)} requests answered 429 during the {STORM_S:g}s storm; "
        f"{len(posted)} deliveries posted, {len(dead)} dead-lettered with a reason"
    )
    result.report_and_check()
