"""/livez and /readyz over real HTTP, driven by the flow's own stage counters."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from connectors.health import HealthServer
from operators.metrics import STAGE_ITEMS

STALL_S = 0.6


def get(server: HealthServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def health() -> Iterator[HealthServer]:
    server = HealthServer(0, stall_after_s=STALL_S, host="127.0.0.1").start()
    yield server
    server.stop()


def test_live_while_items_move_then_503_when_they_stop(health: HealthServer) -> None:
    counter = STAGE_ITEMS.labels("health_test", "ok")
    for _ in range(3):
        counter.inc(5)
        status, text = get(health, "/livez")
        assert status == 200, text
        time.sleep(STALL_S / 3)
    time.sleep(STALL_S * 1.5)
    status, text = get(health, "/livez")
    assert status == 503
    assert text.startswith("stalled")
    counter.inc()  # the flow moves again: live again, no restart needed
    assert get(health, "/livez")[0] == 200


def test_ready_and_unknown_paths(health: HealthServer) -> None:
    assert get(health, "/readyz") == (200, "ready")
    assert get(health, "/metrics")[0] == 404
