"""A local HTTP server that answers as Slack's and Discord's HTTP APIs do (their wire format).

No real Slack or Discord can run on loopback, so this is the one place the tests use a fake: a
``ThreadingHTTPServer`` on a free 127.0.0.1 port that records every request and answers

- ``POST /services/...`` as a Slack incoming webhook: 200 ``ok`` (text), 400 ``invalid_payload``
  for a body without text/blocks;
- ``POST /api/chat.postMessage`` as Slack's Web API: ``{"ok": true, "channel", "ts", "message"}``,
  ``{"ok": false, "error": "not_authed"}`` without a bearer token;
- ``POST /api/webhooks/<id>/<token>`` as a Discord webhook: 204, 400 with code 50006 when empty;
- ``POST /hooks/...`` as a generic webhook receiver: 200.

Tests script the next answers of a path (429 with Retry-After, 5xx, ...), make it hang, or give
one answer to everything for a while (``storm``: a rate-limit storm). ``accepted`` lists the
requests that got a 2xx answer: what the real API would have posted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.services.ports import free_port


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/plain; charset=utf-8"


def _json(status: int, doc: Any, *headers: tuple[str, str]) -> Reply:
    return Reply(status, json.dumps(doc).encode(), headers, "application/json; charset=utf-8")


# --- answers as the real APIs give them ----------------------------------------------------------


def slack_webhook_ok() -> Reply:
    return Reply(200, b"ok", content_type="text/html")


def slack_webhook_ratelimited(retry_after: int) -> Reply:
    return Reply(429, b"rate_limited", (("Retry-After", str(retry_after)),), "text/html")


def server_error(status: int = 500) -> Reply:
    return Reply(status, b"<html>upstream error</html>", content_type="text/html")


def slack_api_ratelimited(retry_after: int) -> Reply:
    return _json(429, {"ok": False, "error": "ratelimited"}, ("Retry-After", str(retry_after)))


def slack_api_error(error: str) -> Reply:
    return _json(200, {"ok": False, "error": error})


def discord_ratelimited(retry_after: float) -> Reply:
    return _json(
        429,
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
        ("Retry-After", str(max(1, round(retry_after)))),
        ("X-RateLimit-Limit", "5"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset-After", str(retry_after)),
        ("X-RateLimit-Scope", "user"),
    )


def hang(seconds: float) -> Reply:
    """Holds the request ``seconds`` before a 200 (a channel that is down behind a proxy)."""
    return Reply(-1, str(seconds).encode())


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeApis:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    always: dict[str, Reply] = field(default_factory=dict)
    storms: dict[str, tuple[Reply, float]] = field(default_factory=dict)  # reply, until (monotonic)
    answered: list[tuple[Recorded, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def script(self, path_prefix: str, *replies: Reply) -> None:
        """The next requests under ``path_prefix`` get these replies, then the normal ones."""
        with self.lock:
            self.scripts.setdefault(path_prefix, []).extend(replies)

    def answer_always(self, path_prefix: str, reply: Reply) -> None:
        with self.lock:
            self.always[path_prefix] = reply

    def storm(self, path_prefix: str, reply: Reply, seconds: float) -> None:
        """Every request under ``path_prefix`` gets ``reply`` for the next ``seconds``."""
        with self.lock:
            self.storms[path_prefix] = (reply, time.monotonic() + seconds)

    def received(self, path_prefix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def accepted(self, path_prefix: str) -> list[Recorded]:
        """Requests under ``path_prefix`` answered 2xx, in the order they were answered."""
        with self.lock:
            return [
                r
                for r, status in self.answered
                if r.path.startswith(path_prefix) and 200 <= status < 300
            ]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.scripts.clear()
            self.always.clear()
            self.storms.clear()
            self.answered.clear()

    def _scripted(self, path: str) -> Reply | None:
        with self.lock:
            for prefix, (reply, until) in self.storms.items():
                if path.startswith(prefix) and time.monotonic() < until:
                    return reply
            for prefix, replies in self.scripts.items():
                if path.startswith(prefix) and replies:
                    return replies.pop(0)
            for prefix, reply in self.always.items():
                if path.startswith(prefix):
                    return reply
        return None


def _default_reply(path: str, headers: dict[str, str], body: bytes) -> Reply:
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = None
    if path.startswith("/services/"):
        if not isinstance(doc, dict) or not (doc.get("text") or doc.get("blocks")):
            return Reply(400, b"invalid_payload", content_type="text/html")
        return slack_webhook_ok()
    if path.startswith("/api/chat.postMessage"):
        if not headers.get("authorization", "").startswith("Bearer "):
            return _json(200, {"ok": False, "error": "not_authed"})
        if not isinstance(doc, dict) or not doc.get("channel"):
            return _json(200, {"ok": False, "error": "channel_not_found"})
        ts = f"{time.time():.6f}"
        return _json(
            200,
            {
                "ok": True,
                "channel": doc["channel"],
                "ts": ts,
                "message": {"type": "message", "text": doc.get("text", ""), "ts": ts},
            },
        )
    if path.startswith("/api/webhooks/"):
        if not isinstance(doc, dict) or not (doc.get("content") or doc.get("embeds")):
            return _json(400, {"message": "Cannot send an empty message", "code": 50006})
        return Reply(204)
    if path.startswith("/hooks/"):
        return _json(200, {"received": True})
    return Reply(404, b"not found")


def _handler(state: FakeApis) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded = Recorded("POST", self.path, headers, body, time.monotonic())
            with state.lock:
                state.requests.append(recorded)
            reply = state._scripted(self.path) or _default_reply(self.path, headers, body)
            if reply.status == -1:
                state.released.wait(float(reply.body))
                reply = _default_reply(self.path, headers, body)
            with state.lock:  # before the answer leaves: a client that has it finds it here
                state.answered.append((recorded, reply.status))
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.body:
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the tests read state.requests

    return Handler


@pytest.fixture(scope="session")
def fake_apis_server() -> Iterator[FakeApis]:
    port = free_port()
    state = FakeApis(url=f"http://127.0.0.1:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-apis", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()  # let hanging handlers finish
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_apis(fake_apis_server: FakeApis) -> Iterator[FakeApis]:
    """The session's server with no scripted answers and no recorded requests."""
    fake_apis_server.reset()
    yield fake_apis_server
    fake_apis_server.reset()
