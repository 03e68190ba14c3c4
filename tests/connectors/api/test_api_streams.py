"""Live streams on a real uvicorn with real websockets / httpx clients: server-side filters,
unknown filters, resume from a cursor or a key, a slow client beside fast ones, SSE, status, and
hostile frames. The feed is the embedded one: records are appended to the output files the way
the flow's sinks write them."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.connectors.api.server import RunningApi, no_leak, running_api

pytestmark = pytest.mark.service

SEVERITIES = ("info", "low", "medium", "high", "critical")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    out: Path = tmp_path_factory.mktemp("api-streams")
    env = {
        "SCORPIUS_API_CLIENT_QUEUE": "100",
        "SCORPIUS_API_MAX_SKIPS": "1000",
        # The fast clients run in this process beside the server: compressed, the slow-client
        # test's 4 KB alerts (mostly padding) stay small enough for them to keep up.
        "SCORPIUS_API_WS_DEFLATE": "true",
    }
    with running_api(out, env) as served:
        yield served


def alert(
    i: int, chain: int = 1, severity: str = "high", rule: str | None = None, pad: int = 200
) -> str:
    origin = f"rule:{rule}" if rule else "detector:sandwich_attempt"
    return json.dumps(
        {
            "key": f"k{i}",
            "origin": origin,
            "severity": severity,
            "title": f"alert {i} " + "x" * pad,
            "chain_id": chain,
            "tx_hashes": [f"0x{i:064x}"],
            "first_seen_ms": 1,
            "created_ms": int(time.time() * 1000),
            "tags": ["mev"] if rule is None else ["watch"],
            "data": {"searcher": f"0x{i % 3:040x}"},
        }
    )


def tx(i: int, chain: int = 1, value: int = 0, kind: str = "transfer") -> str:
    return json.dumps(
        {
            "tx": {
                "chain_id": chain,
                "hash": f"0x{i:064x}",
                "sender": f"0x{1:040x}",
                "to": f"0x{i % 2 + 2:040x}",
                "value": value,
                "selector": "0xa9059cbb" if kind == "token_transfer" else None,
                "first_seen_ms": int(time.time() * 1000),
            },
            "kind": kind,
            "token": f"0x{9:040x}" if kind == "token_transfer" else None,
            "swaps": [],
        }
    )


async def receive(ws: ClientConnection, want: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < want:
        frame = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        message = json.loads(frame)
        if message["type"] not in ("hello", "status"):
            got.append(message)
    return got


async def quiet(ws: ClientConnection, wait: float = 0.5) -> list[dict[str, Any]]:
    """What arrives within ``wait`` seconds (nothing, when filters hold)."""
    got = []
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), wait)))
    except TimeoutError:
        return got


async def hello(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "hello", message
    return message


def test_filters_are_applied_on_the_server(live: RunningApi) -> None:
    key = live.key("viewer")

    async def scenario() -> None:
        url = f"{live.ws}/ws/alerts?api_key={key}"
        async with (
            connect(f"{url}&chain=8453&severity=high") as base_high,
            connect(f"{url}&rule_id=watch-big&tags=watch") as rules,
            connect(f"{live.ws}/ws/transactions?api_key={key}&min_value=1000&kind=transfer") as txs,
            connect(
                f"{live.ws}/ws/transactions?api_key={key}&token=0x{9:040x}&selector=0xa9059cbb"
            ) as tokens,
        ):
            for ws in (base_high, rules, txs, tokens):
                await hello(ws)
            lines = [
                alert(1, chain=1, severity="critical"),
                alert(2, chain=8453, severity="low"),
                alert(3, chain=8453, severity="critical"),
                alert(4, chain=8453, severity="high", rule="watch-big"),
                alert(5, chain=8453, severity="high", rule="other"),
            ]
            live.append("alerts.jsonl", lines)
            live.append(
                "tx_enriched.jsonl",
                [tx(10, value=5), tx(11, value=5000), tx(12, value=10**30, kind="token_transfer")],
            )
            got = await receive(base_high, 3)
            assert [m["key"] for m in got] == ["k3", "k4", "k5"]
            assert not await quiet(base_high, 0.3)
            got = await receive(rules, 1)
            assert [m["key"] for m in got] == ["k4"]
            got = await receive(txs, 1)
            assert got[0]["data"]["tx"]["hash"] == f"0x{11:064x}"
            assert not await quiet(txs, 0.3)
            got = await receive(tokens, 1)
            assert got[0]["data"]["tx"]["hash"] == f"0x{12:064x}"
            # A new filter on the same socket.
            await base_high.send(json.dumps({"op": "subscribe", "filters": {"chain": [1]}}))
            assert (await hello(base_high))["filters"] == {"chain": ["1"]}
            live.append("alerts.jsonl", [alert(6, chain=8453), alert(7, chain=1)])
            assert [m["key"] for m in await receive(base_high, 1)] == ["k7"]

    asyncio.run(scenario())


def test_unknown_filters_and_bad_frames_are_refused_cleanly(live: RunningApi) -> None:
    key = live.key("viewer")
    # Uvicorn logs every handshake with its query string, where stream clients put their key.
    handshakes = logging.getLogger("uvicorn.error")
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handshakes.addHandler(handler)
    level = handshakes.level
    handshakes.setLevel(logging.INFO)

    async def scenario() -> None:
        async with connect(f"{live.ws}/ws/alerts?api_key={key}&colour=red") as ws:
            message = json.loads(await ws.recv())
            assert message["error"] == "unknown_filter" and "colour" in message["detail"]
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
        async with connect(f"{live.ws}/ws/transactions?api_key={key}&min_value=lots") as ws:
            assert json.loads(await ws.recv())["error"] == "invalid_filter"
        async with connect(f"{live.ws}/ws/alerts") as ws:
            assert json.loads(await ws.recv())["error"] == "missing_credentials"
        async with connect(f"{live.ws}/ws/alerts?api_key=sk_nope_nope") as ws:
            assert json.loads(await ws.recv())["error"] == "invalid_credentials"
        async with connect(f"{live.ws}/ws/alerts?api_key={key}", max_size=None) as ws:
            await hello(ws)
            await ws.send("not json")
            assert json.loads(await ws.recv())["error"] == "bad_message"
            await ws.send(json.dumps({"op": "subscribe", "filters": {"chain": {"a": 1}}}))
            assert json.loads(await ws.recv())["error"] == "invalid_filter"
            await ws.send("x" * (1 << 20))  # over SCORPIUS_API_MAX_FRAME_BYTES
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        # The server still serves.
        async with connect(f"{live.ws}/ws/alerts?api_key={key}") as ws:
            await hello(ws)

    asyncio.run(scenario())
    with httpx.Client(base_url=live.url, timeout=10) as c:
        answer = c.get("/sse/alerts", params={"api_key": key, "colour": "red"})
        assert answer.status_code == 400 and answer.json()["error"] == "unknown_filter"
        no_leak(answer.text, key)
    handshakes.removeHandler(handler)
    handshakes.setLevel(level)
    assert any("api_key=***" in line for line in records)
    no_leak("\n".join(records), key, key.split("_")[2])


def test_resume_from_cursor_or_last_key(live: RunningApi) -> None:
    key = live.key("viewer")

    async def scenario() -> None:
        url = f"{live.ws}/ws/alerts?api_key={key}&chain=10"
        async with connect(url) as ws:
            await hello(ws)
            live.append("alerts.jsonl", [alert(i, chain=10) for i in range(100, 103)])
            got = await receive(ws, 3)
        last = got[-1]
        # Gone; meanwhile more arrive.
        live.append("alerts.jsonl", [alert(i, chain=10) for i in range(103, 106)])
        await asyncio.sleep(0.5)
        async with connect(f"{url}&since={last['cursor']}") as ws:
            await hello(ws)
            again = await receive(ws, 3)
            assert [m["key"] for m in again] == ["k103", "k104", "k105"]
        async with connect(f"{url}&last_key=k104") as ws:
            await hello(ws)
            assert [m["key"] for m in await receive(ws, 1)] == ["k105"]
        async with connect(f"{url}&last_key=never-seen") as ws:
            await hello(ws)
            lost = json.loads(await ws.recv())
            assert lost == {"type": "missed", "count": -1, "cursor": lost["cursor"]}

    asyncio.run(scenario())


class RawSlowClient:
    """A WebSocket client that reads nothing until told to, through a small fixed receive buffer
    (client libraries keep reading into memory; this one lets the server's buffers fill)."""

    def __init__(self, api: RunningApi, path: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
        self.sock.connect(("127.0.0.1", int(api.url.rsplit(":", 1)[1])))
        nonce = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")

    def _need(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def frames(self, idle_s: float = 1.0) -> list[dict[str, Any]]:
        """Every text frame until nothing comes for ``idle_s`` (server frames are unmasked)."""
        self.sock.settimeout(idle_s)
        got: list[dict[str, Any]] = []
        try:
            while True:
                first, second = self._need(2)
                size = second & 0x7F
                if size == 126:
                    size = int.from_bytes(self._need(2), "big")
                elif size == 127:
                    size = int.from_bytes(self._need(8), "big")
                payload = self._need(size)
                if first & 0x0F == 1:
                    got.append(json.loads(payload))
        except (TimeoutError, ConnectionError):
            return got

    def close(self) -> None:
        self.sock.close()


def test_slow_client_is_skipped_ahead_and_never_holds_back_the_others(live: RunningApi) -> None:
    key = live.key("viewer")
    total = 6000
    path = f"/ws/alerts?api_key={key}&chain=5"
    slow = RawSlowClient(live, path)

    async def scenario() -> None:
        fast_clients = [await connect(f"{live.ws}{path}") for _ in range(3)]
        try:
            for ws in fast_clients:
                await hello(ws)

            async def fast(ws: ClientConnection) -> list[int]:
                return [m["cursor"] for m in await receive(ws, total, timeout=60)]

            async def produce() -> None:
                for start in range(0, total, 500):
                    live.append(
                        # 4 KB each: far more than the socket buffers hold for the slow one.
                        "alerts.jsonl",
                        [alert(i, chain=5, pad=4000) for i in range(start, start + 500)],
                    )
                    await asyncio.sleep(0.05)

            _, *results = await asyncio.gather(produce(), *(fast(ws) for ws in fast_clients))
            for cursors in results:
                assert cursors is not None
                assert len(cursors) == total
                assert cursors == sorted(cursors)
                assert cursors[-1] - cursors[0] == total - 1  # nothing missed
        finally:
            for ws in fast_clients:
                await ws.close()

    try:
        asyncio.run(scenario())
        # The slow one now reads: it was told how much it missed, and skipped ahead.
        frames = slow.frames()
    finally:
        slow.close()
    assert frames[0]["type"] == "hello"
    missed = [m for m in frames if m["type"] == "missed"]
    delivered = [m for m in frames if m["type"] == "alert"]
    assert missed and sum(m["count"] for m in missed) > total // 2
    assert len(delivered) + sum(m["count"] for m in missed) == total
    assert delivered[-1]["key"] == f"k{total - 1}"
    metrics = httpx.get(f"{live.url}/metrics").text
    dropped = [
        line
        for line in metrics.splitlines()
        if line.startswith('scorpius_api_dropped_total{stream="alerts"}')
    ]
    assert dropped and float(dropped[0].rsplit(" ", 1)[1]) > 0


def test_batched_frames_carry_every_message_in_order(live: RunningApi) -> None:
    key = live.key("viewer")

    async def scenario() -> list[Any]:
        async with connect(f"{live.ws}/ws/alerts?api_key={key}&chain=7&batch=1") as ws:
            await hello(ws)
            live.append("alerts.jsonl", [alert(i, chain=7) for i in range(300, 500)])
            frames: list[Any] = []
            while sum(len(f) for f in frames) < 200:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return frames

    frames = asyncio.run(scenario())
    assert all(isinstance(f, list) for f in frames)
    assert len(frames) < 200  # several messages per frame
    keys = [m["key"] for f in frames for m in f]
    assert keys == [f"k{i}" for i in range(300, 500)]


def test_sse_twin_and_status_stream(live: RunningApi) -> None:
    key = live.key("viewer")

    async def status() -> dict[str, Any]:
        async with connect(f"{live.ws}/ws/status?api_key={key}") as ws:
            await hello(ws)
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message["type"] == "status":
                    return message["data"]

    events: list[tuple[str, str, str]] = []
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=10)) as c,
        c.stream(
            "GET", f"{live.url}/sse/alerts", params={"chain": "42161"}, headers={"X-API-Key": key}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(("event:", "id:", "data:")):
                name, _, value = line.partition(":")
                event[name] = value.strip()
            elif not line and event:
                events.append((event.get("event", ""), event.get("id", ""), event.get("data", "")))
                event = {}
                if len(events) == 1:
                    live.append("alerts.jsonl", [alert(900, chain=1), alert(901, chain=42161)])
                if len(events) == 2:
                    break
    assert events[0][0] == "hello"
    kind, cursor, data = events[1]
    assert kind == "alert" and json.loads(data)["key"] == "k901"
    assert cursor == str(json.loads(data)["cursor"])
    state = asyncio.run(status())
    assert state["totals"]["alerts"] > 0 and state["sinks"]["feed"] == "ok"
    assert set(state) >= {"rates", "lag_ms", "dead_letters", "clients"}


def test_stream_auth_failures_forged_expired_and_revoked(live: RunningApi) -> None:
    key = live.key("viewer")
    created = live.ctx.keys.create("to-revoke", "viewer", 1000.0, 1000)
    token = httpx.post(f"{live.url}/api/v1/token", headers={"X-API-Key": key}).json()
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "role": "admin"}, "not-the-secret-but-long-enough-for-hs256!", algorithm="HS256"
    )
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
        live.ctx.keys._secret(),
        algorithm="HS256",
    )
    live.ctx.keys.revoke(created.row.key_id)

    async def refused(query: str) -> tuple[str, int]:
        async with connect(f"{live.ws}/ws/alerts?{query}") as ws:
            message = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            no_leak(json.dumps(message), key, created.key, forged, expired)
            return message["error"], closed.value.rcvd.code

    async def scenario() -> None:
        assert await refused(f"token={forged}") == ("invalid_credentials", 4401)
        assert await refused(f"token={expired}") == ("token_expired", 4401)
        assert await refused(f"api_key={created.key}") == ("key_revoked", 4401)
        async with connect(f"{live.ws}/ws/alerts?token={token['access_token']}") as ws:
            await hello(ws)

    asyncio.run(scenario())
    with httpx.Client(base_url=live.url, timeout=10) as c:
        answer = c.get("/sse/alerts", params={"token": expired})
        assert answer.status_code == 401 and answer.json()["error"] == "token_expired"


def test_status_stream_counts_dead_letters_by_stage_and_reason(live: RunningApi) -> None:
    key = live.key("viewer")
    letters = [
        {"stage": "normalize", "reason": "bad signature: 0xab", "payload": "x"},
        {"stage": "normalize", "reason": "bad signature: 0xcd", "payload": "y"},
        {"stage": "rules", "reason": "rule load error: swaps.yaml line 3", "payload": "z"},
    ]
    live.append("dead_letters.jsonl", [json.dumps(letter) for letter in letters])

    async def status() -> dict[str, Any]:
        async with connect(f"{live.ws}/ws/status?api_key={key}") as ws:
            await hello(ws)
            deadline = time.monotonic() + 10
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                dead = message["data"]["dead_letters"]
                if dead["total"] >= 3 or time.monotonic() > deadline:
                    return message["data"]

    state = asyncio.run(status())
    assert state["dead_letters"] == {
        "total": 3,
        "by_stage": {"normalize": 2, "rules": 1},
        "by_reason": {"bad signature": 2, "rule load error": 1},
    }
    assert state["totals"]["dead_letters"] == 3
    assert state["rates"]["dead_letters"] > 0
