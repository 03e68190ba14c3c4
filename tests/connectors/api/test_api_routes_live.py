"""Alert routes edited through the API reach a running flow without a restart (embedded: the API
writes the routes file the flow re-reads), observed at a local webhook receiver; bad routes are
refused with a clear 422. The Kafka path is in test_api_kafka.py."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from operators.alert_router import load_routes
from tests.connectors.api.server import (
    ROUTED_RULE,
    ROUTED_RULE_ID,
    RunningApi,
    cli_process,
    flow_alert_env,
    routes_take_effect,
    running_api,
)
from tests.services.http_fakes import FakeApis
from tests.services.ports import free_port, wait_for_port

pytestmark = [pytest.mark.service, pytest.mark.slow]


def test_routes_created_and_deleted_through_the_api_take_effect_within_5s(
    tmp_path: Path, fake_apis: FakeApis
) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    env.update(
        SCORPIUS_OUTPUT_DIR=str(out),
        SCORPIUS_RULES_CACHE_DIR="",
        **flow_alert_env(fake_apis, "/hooks/embedded"),
    )
    created = subprocess.run(
        [sys.executable, "-m", "flows.cli", "api-keys", "create", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = ["serve", "--flow", "--rate", "100"]
    env["SCORPIUS_API_PORT"] = str(port)
    with cli_process(serve, env, tmp_path / "serve.log") as log:
        wait_for_port(port, timeout=120)
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as c:
            assert c.put("/api/v1/rules/routed", json={"source": ROUTED_RULE}).status_code == 200
        took, stopped, alert_key = asyncio.run(
            routes_take_effect(
                f"ws://127.0.0.1:{port}", url, key, fake_apis, "/hooks/embedded", ROUTED_RULE_ID
            )
        )
        # The flow's delivery log, read by the API: that alert went to the webhook by the route.
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as c:
            status = c.get(f"/api/v1/alerts/{alert_key}/deliveries").json()["deliveries"]
        assert [(d["channel"], d["route"], d["status"]) for d in status] == [
            ("webhook", "to-hook", "delivered")
        ]
    assert took <= 5.0, log[0][-2000:]
    assert stopped <= 5.0


def test_bad_routes_are_refused_with_a_clear_422(api: RunningApi) -> None:
    admin = api.key("admin")
    with httpx.Client(base_url=api.url, headers={"X-API-Key": admin}, timeout=30) as c:
        good = {"when": {"severity_at_least": "high"}, "send": ["webhook"]}
        assert c.put("/api/v1/routes/first", json=good).status_code == 200
        refused = {
            "unknown channel": {"send": [{"channel": "pigeon"}]},
            "unknown condition": {"when": {"colour": "red"}, "send": ["webhook"]},
            "bad severity": {"when": {"severity_at_least": "loud"}, "send": ["webhook"]},
            "unknown chain": {"when": {"chains": ["mars"]}, "send": ["webhook"]},
            "recipient on a webhook": {"send": [{"channel": "webhook", "to": ["x"]}]},
        }
        for what, body in refused.items():
            answer = c.put("/api/v1/routes/second", json=body)
            assert answer.status_code == 422, (what, answer.text)
            assert answer.json()["error"] == "invalid" and answer.json()["detail"], what
        for body in ({"send": []}, {"send": ["webhook"], "extra": 1}, {"send": "webhook"}):
            assert c.put("/api/v1/routes/second", json=body).status_code == 422, body
        other = c.put("/api/v1/routes/second", json={"name": "third", "send": ["webhook"]})
        assert other.status_code == 422 and "path" in other.json()["detail"]
        twice = [{"name": "a", "send": ["webhook"]}, {"name": "a", "send": ["slack"]}]
        answer = c.put("/api/v1/routes", json={"routes": twice})
        assert answer.status_code == 422 and "unique" in answer.json()["detail"]
        # Nothing refused was stored or published.
        assert c.get("/api/v1/routes").json() == {"routes": [{"name": "first", **good}]}
        assert c.get("/api/v1/routes/first").json() == {"name": "first", **good}
        assert "first" in (api.out / "alert_routes.yaml").read_text()
        assert c.get("/api/v1/routes/second").status_code == 404
        assert c.delete("/api/v1/routes/second").status_code == 404
        assert c.delete("/api/v1/routes/first").status_code == 204
        assert (api.out / "alert_routes.yaml").read_text().strip() == "routes: []"


def test_a_route_to_a_channel_the_configuration_lacks_is_refused(tmp_path: Path) -> None:
    env = {"SCORPIUS_ALERTS_WEBHOOK_URL": "http://127.0.0.1:9/hooks/x"}
    with running_api(tmp_path / "out", env) as served:
        admin = served.key("admin")
        with httpx.Client(base_url=served.url, headers={"X-API-Key": admin}, timeout=30) as c:
            answer = c.put("/api/v1/routes/to-slack", json={"send": ["slack"]})
            assert answer.status_code == 422
            assert "not configured" in answer.json()["detail"]
            assert "webhook" in answer.json()["detail"]
            assert c.put("/api/v1/routes/to-hook", json={"send": ["webhook"]}).status_code == 200


def test_a_hand_written_routes_file_is_shown_and_kept_by_the_first_edit(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "# by hand\nroutes:\n  - name: criticals\n    when: {severity_at_least: critical}\n"
        "    send: [webhook]\n"
    )
    env = {
        "SCORPIUS_ALERTS_WEBHOOK_URL": "http://127.0.0.1:9/hooks/x",
        "SCORPIUS_ALERTS_ROUTES_PATH": str(routes),
    }
    with running_api(tmp_path / "out", env) as served:
        admin = served.key("admin")
        with httpx.Client(base_url=served.url, headers={"X-API-Key": admin}, timeout=30) as c:
            by_hand = {"name": "criticals", "when": {"severity_at_least": "critical"}}
            by_hand["send"] = ["webhook"]
            assert c.get("/api/v1/routes").json() == {"routes": [by_hand]}
            added = {"name": "rules", "when": {"origins": ["rule:*"]}, "send": ["webhook"]}
            assert c.put("/api/v1/routes/rules", json=added).status_code == 200
            assert c.get("/api/v1/routes").json() == {"routes": [by_hand, added]}
    # The flow reads the same file: both routes, in order.
    assert [r.name for r in load_routes(routes)] == ["criticals", "rules"]
