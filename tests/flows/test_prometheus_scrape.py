"""The flow as a process, scraped by a real Prometheus: stage counters move, latency is observed.

The bundled sample is replayed as a live rehearsal (``replay_rebase``) at a speed that spreads its
nine recorded years over ~15 s, so Prometheus (1 s scrape interval) sees the counters between
batches rather than only the end state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.services.ports import free_port, wait_for_port
from tests.services.prometheus import PrometheusServer

ROOT = Path(__file__).resolve().parents[2]
SPEED = "2e7"  # the sample spans ~2.96e8 s of recorded time: ~15 s of replay


def wait_for(
    probe: Callable[[], float | None], accept: Callable[[float], bool], what: str
) -> float:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        value = probe()
        if value is not None and accept(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {probe()})")


@pytest.mark.service
@pytest.mark.slow
def test_prometheus_sees_stage_counters_move_and_latency(
    prometheus_server: Callable[[list[str]], PrometheusServer], tmp_path: Path
) -> None:
    api_port = free_port()
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "SCORPIUS_SOURCE_KIND": "replay",
        "SCORPIUS_SOURCE_REPLAY_REBASE": "1",
        "SCORPIUS_SOURCE_REPLAY_SPEED": SPEED,
        "SCORPIUS_OUTPUT_DIR": str(tmp_path / "out"),
        "SCORPIUS_OUTPUT_CONSOLE": "0",
        "BYTEWAX_DATAFLOW_API_ENABLED": "1",
        "BYTEWAX_DATAFLOW_API_PORT": str(api_port),
    }
    log = (tmp_path / "flow.log").open("wb")
    flow = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "flows.mempool:flow"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(api_port, timeout=60)
        prom = prometheus_server([f"127.0.0.1:{api_port}"])
        read = 'sum(scorpius_stage_items_total{stage="read"})'
        first = wait_for(lambda: prom.value(read), lambda v: v > 0, "a first scrape with reads")
        later = wait_for(lambda: prom.value(read), lambda v: v > first, "the read counter to grow")
        assert later > first
        normalized = 'sum(scorpius_stage_items_total{stage="normalized"})'
        wait_for(lambda: prom.value(normalized), lambda v: v > 0, "normalized items")

        count = 'sum(scorpius_end_to_end_seconds_count{output="transactions"})'
        observed = wait_for(lambda: prom.value(count), lambda v: v > 0, "latency observations")
        assert observed > 0
        # a live rehearsal: latencies are seconds, not the recording's age (years)
        p99 = prom.value(
            "histogram_quantile(0.99, sum by (le) "
            '(scorpius_end_to_end_seconds_bucket{output="transactions"}))'
        )
        assert p99 is not None and 0 <= p99 <= 30
        assert flow.poll() is None or flow.returncode == 0, (tmp_path / "flow.log").read_text()
    finally:
        flow.terminate()
        try:
            flow.wait(timeout=20)
        except subprocess.TimeoutExpired:
            flow.kill()
            flow.wait()
        log.close()
