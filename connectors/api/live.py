"""Live streams: ``/ws/<stream>`` (WebSocket) and ``/sse/<stream>`` (Server-Sent Events).

Filters come from the query string at subscribe time, or from the key's saved subscription named
by ``?subscription=<id>`` (query filters override its same-named ones); WebSocket clients may
replace them with a ``{"op": "subscribe", "filters": {...}}`` message). Each connection reads its own bounded queue
in the hub (connectors/api/streams.py); a connection that the hub closes for being too slow gets
close code 4008.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from connectors.api import metrics
from connectors.api.access import authenticate, context
from connectors.api.auth import AuthError, ForbiddenError, Principal, RateLimitedError
from connectors.api.errors import BadRequest
from connectors.api.filters import FilterError, StreamFilter, parse_filters
from connectors.api.store import Subscription
from connectors.api.streams import STREAMS, Client, encode_frame

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_SLOW = 4008


def _params(conn: Request | WebSocket) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in conn.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


async def _filters(conn: Request | WebSocket, who: Principal, stream: str) -> StreamFilter:
    params = _params(conn)
    saved = params.pop("subscription", None)
    if saved is None:
        return parse_filters(stream, params)
    if len(saved) != 1 or not saved[0].isdigit() or len(saved[0]) > 18:
        raise FilterError("invalid_filter", "subscription: one subscription id (an integer)")
    sub_id = int(saved[0])

    def read() -> dict[str, Any] | None:
        with context(conn).store.session() as session:
            row = session.get(Subscription, sub_id)
            if row is None or row.key_id != who.key_id or row.stream != stream:
                return None
            return dict(row.filters)

    filters = await run_in_threadpool(read)
    if filters is None:
        raise FilterError(
            "unknown_subscription", f"no subscription {sub_id} of this key for /{stream}"
        )
    return parse_filters(stream, {**filters, **params})


def _resume(conn: Request | WebSocket) -> tuple[int | None, str | None]:
    since = conn.query_params.get("since") or conn.headers.get("last-event-id")
    last_key = conn.query_params.get("last_key")
    if since is not None:
        try:
            value = int(since)
        except ValueError:
            raise FilterError("invalid_filter", "since: not an integer cursor") from None
        if value < 0:
            raise FilterError("invalid_filter", "since: must not be negative")
        return value, None
    if last_key is not None and len(last_key) > 300:
        raise FilterError("invalid_filter", "last_key: too long")
    return None, last_key


def _hello(stream: str, client: Client, lost: int | None) -> list[str]:
    frames = [
        encode_frame(
            {
                "type": "hello",
                "stream": stream,
                "filters": client.filter.shown,
                "cursor": client.last_cursor,
            }
        )
    ]
    if lost is not None:
        frames.append(encode_frame({"type": "missed", "count": lost, "cursor": client.last_cursor}))
    return frames


def build_router() -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws/{stream}")
    async def websocket_stream(ws: WebSocket, stream: str) -> None:
        await ws.accept()
        ctx = context(ws)
        if stream not in STREAMS:
            await ws.send_json({"type": "error", "error": "not_found", "detail": "no such stream"})
            await ws.close(CLOSE_BAD_REQUEST)
            return
        try:
            who = await authenticate(ws, "viewer", allow_query=True)
        except AuthError as exc:
            metrics.AUTH_FAILURES.labels(exc.code).inc()
            await ws.send_json({"type": "error", "error": exc.code, "detail": exc.detail})
            await ws.close(CLOSE_UNAUTHORIZED)
            return
        except ForbiddenError as exc:
            await ws.send_json({"type": "error", "error": "forbidden", "detail": str(exc)})
            await ws.close(CLOSE_FORBIDDEN)
            return
        except RateLimitedError as exc:
            await ws.send_json({"type": "error", "error": "rate_limited", "detail": str(exc)})
            await ws.close(CLOSE_RATE_LIMITED)
            return
        try:
            stream_filter = await _filters(ws, who, stream)
            since, last_key = _resume(ws)
        except FilterError as exc:
            await ws.send_json({"type": "error", "error": exc.code, "detail": exc.detail})
            await ws.close(CLOSE_BAD_REQUEST)
            return
        # ?batch=1: every frame is a JSON array of the messages queued at that moment (one frame
        # per wake-up instead of one per message: far less per-message cost for busy streams).
        batch = ws.query_params.get("batch", "").lower() in ("1", "true")
        client, lost = ctx.hub.open(stream, stream_filter, since, last_key)
        sent = metrics.SENT.labels(stream)
        try:
            for frame in _hello(stream, client, lost):
                await ws.send_text(frame)
            reader = asyncio.create_task(_read_commands(ws, client))
            try:
                while True:
                    await client.wakeup.wait()
                    if batch:
                        batched, count = client.take_batch()
                        if batched is not None:
                            await ws.send_text(batched)
                        sent.inc(count)
                    else:
                        frames = client.take()
                        for frame in frames:
                            await ws.send_text(frame)
                        sent.inc(len(frames))
                    if client.gone:
                        return
                    if client.closed is not None:
                        metrics.SLOW_CLOSED.labels(stream).inc()
                        await ws.close(CLOSE_TOO_SLOW, client.closed)
                        return
            finally:
                reader.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away
        finally:
            ctx.hub.close(client)

    async def _read_commands(ws: WebSocket, client: Client) -> None:
        """Filter changes from the client; anything else gets an error message, not a close."""
        try:
            await _commands(ws, client)
        finally:
            # Wakes the writer: the client is gone (or sent a frame too large and was closed).
            client.gone = True
            client.wakeup.set()

    async def _commands(ws: WebSocket, client: Client) -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            try:
                command = json.loads(text) if text is not None else None
            except ValueError:
                command = None
            if not isinstance(command, dict) or command.get("op") != "subscribe":
                await ws.send_json(
                    {
                        "type": "error",
                        "error": "bad_message",
                        "detail": 'send {"op": "subscribe", "filters": {...}}',
                    }
                )
                continue
            filters = command.get("filters") or {}
            try:
                if not isinstance(filters, dict):
                    raise FilterError("invalid_filter", "filters must be an object")
                context(ws).hub.refilter(client, parse_filters(client.stream, filters))
            except FilterError as exc:
                await ws.send_json({"type": "error", "error": exc.code, "detail": exc.detail})
                continue
            await ws.send_text(_hello(client.stream, client, None)[0])

    @router.get("/sse/{stream}", tags=["streams"])
    async def sse_stream(request: Request, stream: str) -> Any:
        """Server-Sent Events twin of ``/ws/{stream}`` (same filters; ``Last-Event-ID`` resumes)."""
        if stream not in STREAMS:
            raise BadRequest("not_found", "no such stream", 404)
        who = await authenticate(request, "viewer", allow_query=True)
        stream_filter = await _filters(request, who, stream)
        since, last_key = _resume(request)
        ctx = context(request)
        client, lost = ctx.hub.open(stream, stream_filter, since, last_key)
        sent = metrics.SENT.labels(stream)

        async def events() -> AsyncIterator[ServerSentEvent]:
            try:
                for frame in _hello(stream, client, lost):
                    yield _event(frame)
                while True:
                    await client.wakeup.wait()
                    frames = client.take()
                    for frame in frames:
                        yield _event(frame)
                    sent.inc(len(frames))
                    if client.closed is not None:
                        metrics.SLOW_CLOSED.labels(stream).inc()
                        return
            finally:
                ctx.hub.close(client)

        return EventSourceResponse(events(), ping=15)

    return router


def _event(frame: str) -> ServerSentEvent:
    # The type and cursor sit at the front of every frame the hub encodes.
    kind = frame[9 : frame.index('"', 9)] if frame.startswith('{"type":"') else "message"
    cursor = None
    at = frame.find('"cursor":')
    if at >= 0:
        end = at + 9
        while end < len(frame) and frame[end].isdigit():
            end += 1
        cursor = frame[at + 9 : end] or None
    return ServerSentEvent(data=frame, event=kind, id=cursor)
