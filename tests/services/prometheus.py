"""A real Prometheus server on a free loopback port, scraping the targets a test gives it."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.ports import free_port, wait_for_port
from tests.services.running import terminate

BINARY = "/usr/bin/prometheus"


class PrometheusServer:
    def __init__(self, workdir: Path, targets: list[str], interval_s: float = 1.0) -> None:
        if not Path(BINARY).exists():
            pytest.fail(f"{BINARY} is missing: run tests/services/install_prometheus.sh")
        self.port = free_port()
        config = workdir / "prometheus.yml"
        interval = f"{round(interval_s * 1000)}ms"  # Prometheus durations take no decimals
        config.write_text(
            "global:\n"
            f"  scrape_interval: {interval}\n"
            f"  evaluation_interval: {interval}\n"
            "scrape_configs:\n"
            "  - job_name: scorpius\n"
            "    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n"
        )
        self._log = (workdir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, timeout=60)
        except TimeoutError:
            self.stop()
            log = (workdir / "prometheus.log").read_text()[-2000:]
            pytest.fail(f"Prometheus did not start:\n{log}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float:
        """The single value of a query that sums to one series (0 when there is none yet)."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else 0.0

    def wait_for(self, promql: str, predicate: Any, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            value = self.value(promql)
            if predicate(value) or time.monotonic() > deadline:
                return value
            time.sleep(0.5)

    def stop(self) -> None:
        terminate(self._proc, timeout=20)
        self._log.close()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Any]:
    """``start(targets)`` → a running PrometheusServer; stopped when the test ends."""
    servers: list[PrometheusServer] = []

    def start(targets: list[str], interval_s: float = 1.0) -> PrometheusServer:
        workdir = tmp_path / f"prometheus-{len(servers)}"
        workdir.mkdir()
        server = PrometheusServer(workdir, targets, interval_s)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
