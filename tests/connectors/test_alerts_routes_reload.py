"""The routes file is followed while the flow runs: a change is picked up at the next look, a bad
file keeps the routes in use, a removed file brings back the default route; the alert sink swaps
its dispatcher's table before a batch."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from connectors.alerts.log import JsonlLog
from connectors.alerts.routes_file import RoutesFile
from flows.config import AlertsConfig, load_config
from flows.wiring.alerts import ROUTES_FILE, build_alert_sink, router_of, routes_file
from operators.alert_router import Router, RoutesError, Target
from operators.records import Alert
from tests.services.http_fakes import FakeApis
from tests.waiting import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _alert(origin: str, severity: str = "high") -> Alert:
    return Alert(
        key=f"{origin}-{time.monotonic_ns()}",
        origin=origin,
        severity=severity,
        title="t",
        chain_id=1,
        tx_hashes=(),
        first_seen_ms=1,
        created_ms=1,
    )


def _targets(router: Router, alert: Alert) -> list[Target]:
    return router.targets(alert)


def test_a_changed_file_is_picked_up_at_the_next_look(tmp_path: Path) -> None:
    cfg = load_config({"SCORPIUS_ALERTS_WEBHOOK_URL": "http://127.0.0.1:9/hooks/x"}).alerts
    path = tmp_path / "routes.yaml"
    clock = Clock()
    watched = RoutesFile(path, lambda r: router_of(cfg, ["webhook"], r), 1.0, clock)
    assert watched.load_routes() is None  # no file: the default route
    path.write_text(
        "routes:\n  - name: rules\n    when: {origins: ['rule:*']}\n    send: [webhook]\n"
    )
    assert watched.changed() is None  # not looked at before the interval
    clock.now = 1.0
    router = watched.changed()
    assert router is not None and [r.name for r in router.routes] == ["rules"]
    assert _targets(router, _alert("detector:sandwich")) == []
    assert [t.route for t in _targets(router, _alert("rule:big"))] == ["rules"]
    clock.now = 2.0
    assert watched.changed() is None  # unchanged

    path.write_text("routes:\n  - send: [pigeon]\n")
    clock.now = 3.0
    assert watched.changed() is None  # refused: the previous table stays in use

    path.unlink()
    clock.now = 4.0
    router = watched.changed()
    assert router is not None and [r.name for r in router.routes] == ["default"]
    assert _targets(router, _alert("detector:sandwich", "critical"))[0].channel == "webhook"


def test_the_alert_sink_delivers_by_the_new_routes_after_the_file_changes(
    tmp_path: Path, fake_apis: FakeApis
) -> None:
    cfg = load_config(
        {
            "SCORPIUS_ALERTS_WEBHOOK_URL": f"{fake_apis.url}/hooks/reload",
            "SCORPIUS_ALERTS_ROUTES_RELOAD_S": "0",
        }
    ).alerts
    cfg = dataclasses.replace(cfg, max_attempts=1)
    sink = build_alert_sink(cfg, tmp_path, dead_letter=JsonlLog(tmp_path / "dead.jsonl").write)
    assert sink is not None
    part = sink.build_part("alerts_deliver", "alerts", None)
    try:
        part.write_batch([_alert("detector:a")])  # the default route: high and up to webhook
        wait_until(lambda: len(fake_apis.accepted("/hooks/reload")) == 1, 10)

        routes_file(cfg, tmp_path).write_text(
            "routes:\n  - name: only-rules\n    when: {origins: ['rule:*']}\n    send: [webhook]\n"
        )
        part.write_batch([_alert("detector:b"), _alert("rule:c")])
        wait_until(lambda: len(fake_apis.accepted("/hooks/reload")) == 2, 10)
        sent = [r.json()["alert"]["origin"] for r in fake_apis.accepted("/hooks/reload")]
        assert sent == ["detector:a", "rule:c"]
        assert fake_apis.accepted("/hooks/reload")[-1].json()["route"] == "only-rules"
    finally:
        part.close()


def test_a_stale_routes_file_the_api_left_does_not_stop_a_later_run(tmp_path: Path) -> None:
    # The API writes routes into the output folder; a later run configured with other channels
    # starts, and its deliveries to the missing channel are dead-lettered, not the run.
    (tmp_path / ROUTES_FILE).write_text(
        "routes:\n  - name: old\n    send:\n      - channel: discord\n"
    )
    cfg = AlertsConfig(webhook_url="http://127.0.0.1:9/hook")
    assert build_alert_sink(cfg, tmp_path, lambda _letter: None) is not None
    named = dataclasses.replace(cfg, routes_path=str(tmp_path / ROUTES_FILE))
    with pytest.raises(RoutesError, match="'discord', which is not configured"):
        build_alert_sink(named, tmp_path, lambda _letter: None)
