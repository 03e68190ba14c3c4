"""A real Prometheus server for the tests: Debian's ``/usr/bin/prometheus`` as a child process.

``prometheus_server`` is a factory: call it with the ``host:port`` targets to scrape and it starts a
server with its own config and storage in a temp folder, on a free 127.0.0.1 port, scraping every
second. Servers stop when the test ends. ``PrometheusServer.query`` runs an instant PromQL query
over the HTTP API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services.ports import free_port, wait_for_port

BINARY = "/usr/bin/prometheus"
SCRAPE_INTERVAL_S = 1


def prometheus_binary() -> str:
    found = BINARY if Path(BINARY).exists() else shutil.which("prometheus")
    if not found:
        pytest.fail("prometheus is not installed: run tests/services/install_prometheus.sh")
    return found


def promtool_binary() -> str:
    found = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(found).exists():
        pytest.fail("promtool is not installed: run tests/services/install_prometheus.sh")
    return found


@dataclass
class PrometheusServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result vector of an instant query (``[]`` when nothing matches yet)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of an instant query that sums to one series, None when empty."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def targets_up(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as resp:
            active: list[dict[str, Any]] = json.load(resp)["data"]["activeTargets"]
        return active


def _config(targets: list[str]) -> str:
    return (
        "global:\n"
        f"  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
        f"  scrape_timeout: {SCRAPE_INTERVAL_S}s\n"
        f"  evaluation_interval: {SCRAPE_INTERVAL_S}s\n"
        "scrape_configs:\n"
        "  - job_name: scorpius\n"
        "    static_configs:\n"
        f"      - targets: {json.dumps(targets)}\n"
    )


@pytest.fixture
def prometheus_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[list[str]], PrometheusServer]]:
    binary = prometheus_binary()
    started: list[PrometheusServer] = []

    def start(targets: list[str]) -> PrometheusServer:
        root = tmp_path_factory.mktemp("prometheus")
        (root / "prometheus.yml").write_text(_config(targets))
        port = free_port()
        log = root / "prometheus.log"
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        server = PrometheusServer(port, process, log)
        started.append(server)
        try:
            wait_for_port(port, timeout=30)
        except TimeoutError:
            process.kill()
            raise AssertionError(f"prometheus did not start: {log.read_text()[-2000:]}") from None
        return server

    yield start
    for server in started:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
