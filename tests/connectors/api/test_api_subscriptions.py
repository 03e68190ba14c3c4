"""A saved subscription is a stream's filters by name: ``/ws/alerts?subscription=<id>`` (and the
SSE twin) streams with them; query filters override them; another key's subscription, another
stream's, or one deleted is refused."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.connectors.api.server import running_api

pytestmark = pytest.mark.service


def _alert(i: int, chain: int, severity: str) -> str:
    return json.dumps(
        {
            "key": f"s{i}",
            "origin": "detector:sandwich_attempt",
            "severity": severity,
            "title": f"alert {i}",
            "chain_id": chain,
            "tx_hashes": [f"0x{i:064x}"],
            "first_seen_ms": 1,
            "created_ms": int(time.time() * 1000),
        }
    )


def test_streams_use_a_saved_subscription(tmp_path: Path) -> None:
    with running_api(tmp_path / "out") as api:
        mine, other = api.key("viewer"), api.key("viewer")
        with httpx.Client(base_url=api.url, headers={"X-API-Key": mine}, timeout=30) as c:
            saved = c.post(
                "/api/v1/subscriptions",
                json={
                    "name": "base, high up",
                    "stream": "alerts",
                    "filters": {"chain": [8453], "severity": "high"},
                },
            ).json()
        sub = saved["id"]

        async def scenario() -> None:
            base = f"{api.ws}/ws/alerts?api_key={mine}&subscription={sub}"
            async with (
                connect(base) as by_subscription,
                connect(f"{base}&severity=critical") as overridden,
            ):
                hello = json.loads(await by_subscription.recv())
                assert hello["filters"] == {"chain": ["8453"], "severity": ["high"]}
                assert json.loads(await overridden.recv())["filters"]["severity"] == ["critical"]
                api.append(
                    "alerts.jsonl",
                    [
                        _alert(1, 1, "critical"),
                        _alert(2, 8453, "low"),
                        _alert(3, 8453, "high"),
                        _alert(4, 8453, "critical"),
                    ],
                )
                got = [json.loads(await asyncio.wait_for(by_subscription.recv(), 10))]
                got.append(json.loads(await asyncio.wait_for(by_subscription.recv(), 10)))
                assert [m["key"] for m in got] == ["s3", "s4"]
                only = json.loads(await asyncio.wait_for(overridden.recv(), 10))
                assert only["key"] == "s4"
            refused = {
                f"{api.ws}/ws/alerts?api_key={other}&subscription={sub}": "unknown_subscription",
                f"{api.ws}/ws/transactions?api_key={mine}&subscription={sub}": (
                    "unknown_subscription"
                ),
                f"{api.ws}/ws/alerts?api_key={mine}&subscription=abc": "invalid_filter",
            }
            for url, error in refused.items():
                async with connect(url) as ws:
                    message = json.loads(await ws.recv())
                    assert message["type"] == "error" and message["error"] == error, url

        asyncio.run(scenario())
        with httpx.Client(base_url=api.url, timeout=30) as c:
            sse = c.get(f"/sse/alerts?api_key={other}&subscription={sub}")
            assert sse.status_code == 400 and sse.json()["error"] == "unknown_subscription"
            mine_h = {"X-API-Key": mine}
            assert c.delete(f"/api/v1/subscriptions/{sub}", headers=mine_h).status_code == 204
            gone = c.get(f"/sse/alerts?api_key={mine}&subscription={sub}")
            assert gone.status_code == 400 and gone.json()["error"] == "unknown_subscription"
