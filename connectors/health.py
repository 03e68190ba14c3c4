"""Liveness and readiness over HTTP, derived from the flow's own stage counters.

``/livez`` fails once no item has left any stage for ``stall_after_s`` (a stalled flow is restarted
by Kubernetes); ``/readyz`` succeeds once the flow is running. The check reads the Prometheus
counters, so health needs no extra state in the hot path.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY


def items_moved() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "scorpius_stage_items":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


class HealthServer:
    def __init__(self, port: int, stall_after_s: float, host: str = "0.0.0.0") -> None:
        self.stall_after_s = stall_after_s
        self._last_total = items_moved()
        self._last_change = time.monotonic()
        self._lock = threading.Lock()
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/livez":
                    ok, text = health.live()
                elif self.path == "/readyz":
                    ok, text = True, "ready"
                else:
                    self.send_error(404)
                    return
                body = text.encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def live(self) -> tuple[bool, str]:
        with self._lock:
            total = items_moved()
            now = time.monotonic()
            if total != self._last_total:
                self._last_total, self._last_change = total, now
            idle = now - self._last_change
        if idle > self.stall_after_s:
            return False, f"stalled: no item moved for {idle:.0f}s"
        return True, f"ok: {total:.0f} items moved"

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
