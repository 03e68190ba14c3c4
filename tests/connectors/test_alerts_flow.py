"""The flow keeps its pace while an alert channel is down: delivery is off the hot path.

Behavioural, not a benchmark: a dead Slack holds every request for 30 s, and the flow must still
pass all its items and finish in a small fraction of that, with every alert accounted for (sent,
or dead-lettered with a reason).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.alerts.log import JsonlLog
from connectors.alerts.sink import for_alert_sink
from flows.wiring.alerts import build_alert_sink
from operators.records import Alert, DeadLetter
from tests.connectors.alert_helpers import SLACK_WEBHOOK_PATH, alert, config
from tests.services import http_fakes
from tests.services.http_fakes import FakeApis

pytestmark = [pytest.mark.service, pytest.mark.slow]

N = 300
HANG_S = 30.0


def run_flow(
    fake_apis: FakeApis, tmp_path: Path, queue_size: int, drain_timeout_s: float
) -> tuple[float, float, list[Alert], Path]:
    """Runs N alerts through a flow with the alert sink; returns (flow seconds, seconds until the
    last item passed the flow's other output, that output, the dead-letter file)."""
    tmp_path.mkdir()
    routes = tmp_path / "routes.yaml"
    routes.write_text("routes:\n  - send: [slack]\n")
    cfg = config(
        fake_apis.url,
        routes_path=str(routes),
        timeout_s=HANG_S * 2,  # the client really waits on the dead channel
        queue_size=queue_size,
        drain_timeout_s=drain_timeout_s,
        channel_rate_per_s=10_000.0,
        channel_burst=10_000,
        recipient_rate_per_s=10_000.0,
        recipient_burst=10_000,
    )
    dead_path = tmp_path / "alert_dead_letters.jsonl"
    sink = build_alert_sink(cfg, tmp_path, dead_letter=JsonlLog(dead_path).write)
    assert sink is not None
    passed: list[Alert] = []
    last_item = [0.0]
    lock = threading.Lock()

    def stamp(a: Alert) -> Alert:
        with lock:
            last_item[0] = time.monotonic()
        return a

    flow = Dataflow("alerts_off_hot_path")
    alerts = op.map(
        "stamp", op.input("in", flow, TestingSource([alert(key=f"k{i}") for i in range(N)])), stamp
    )
    op.output("passed", alerts, TestingSink(passed))
    op.output("deliver", op.map("for_sink", alerts, for_alert_sink), sink)
    started = time.monotonic()
    run_main(flow)
    return time.monotonic() - started, last_item[0] - started, passed, dead_path


def test_a_dead_channel_does_not_slow_the_flow(fake_apis: FakeApis, tmp_path: Path) -> None:
    _, healthy_items_s, healthy_passed, healthy_dead = run_flow(
        fake_apis, tmp_path / "healthy", queue_size=N, drain_timeout_s=30.0
    )
    assert len(healthy_passed) == N
    assert len(fake_apis.received(SLACK_WEBHOOK_PATH)) == N  # all delivered when healthy
    assert not healthy_dead.exists()

    fake_apis.reset()
    fake_apis.answer_always(SLACK_WEBHOOK_PATH, http_fakes.hang(HANG_S))
    down_s, down_items_s, down_passed, down_dead = run_flow(
        fake_apis, tmp_path / "down", queue_size=100, drain_timeout_s=1.0
    )

    assert len(down_passed) == N  # every item passed the flow
    assert down_s < HANG_S / 5  # ≪ one 30 s request, let alone N of them
    # Items pass as fast as with a healthy channel (a generous ratio: the machine is shared).
    assert down_items_s <= 3 * healthy_items_s + 1.0
    # And no alert vanished: each is dead-lettered once, with the reason it was not delivered.
    letters = [DeadLetter(**json.loads(line)) for line in down_dead.read_text().splitlines()]
    keys = sorted(json.loads(d.payload)["alert"]["key"] for d in letters)
    assert keys == sorted(f"k{i}" for i in range(N))
    reasons = {d.reason.split(":")[0] for d in letters}
    assert reasons == {"alert queue full", "alert undelivered at shutdown"}
    assert all(d.stage == "alerts" for d in letters)
