"""A real Prometheus server scrapes the running flow's /metrics and sees it work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.services.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.service
@pytest.mark.slow
def test_prometheus_sees_stage_counters_move_and_latency_filled(
    prometheus_factory: Any, tmp_path: Path
) -> None:
    api_port = free_port()
    env = dict(
        os.environ,
        BYTEWAX_DATAFLOW_API_ENABLED="1",
        BYTEWAX_DATAFLOW_API_PORT=str(api_port),
        # A live rehearsal of the bundled sample: 400 items/s, each first seen when replayed.
        SCORPIUS_SOURCE_REPLAY_RATE="400",
        SCORPIUS_SOURCE_REPLAY_REBASE="true",
        SCORPIUS_OUTPUT_DIR=str(tmp_path / "out"),
        SCORPIUS_OUTPUT_CONSOLE="false",
    )
    flow = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "flows.mempool:flow"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "flow.log").open("wb"),
    )
    try:
        wait_for_port(api_port, timeout=60)
        prom = prometheus_factory([f"127.0.0.1:{api_port}"])
        read = 'sum(scorpius_stage_items_total{stage="read",outcome="ok"})'
        first = prom.wait_for(read, lambda v: v > 0)
        assert first > 0, "Prometheus never saw the flow read anything"
        second = prom.wait_for(read, lambda v: v > first)
        assert second > first, "the read counter did not move between scrapes"

        latency = 'sum(scorpius_end_to_end_seconds_count{output="alert"})'
        assert prom.wait_for(latency, lambda v: v > 0) > 0, "no alert latency observed"
        p99 = prom.value(
            "histogram_quantile(0.99, sum by (le) (scorpius_end_to_end_seconds_bucket))"
        )
        assert 0 < p99 < 60
        # bytewax's own metrics come through the same endpoint
        assert prom.query("bytewax_step_duration_seconds_count") or prom.query(
            '{__name__=~"bytewax_.*"}'
        )
    finally:
        flow.terminate()
        flow.wait(timeout=30)
