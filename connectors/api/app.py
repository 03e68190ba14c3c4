"""The ASGI app: ``create_app(settings, ...)`` wires the store, keys, hub, feed, REST and streams.

``/health``, ``/metrics``, ``/docs`` and the console's static files are open; everything else
needs a key or a token (connectors/api/access.py). Request logs name the method, path (never the
query string: stream URLs may carry a key) and status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.api import errors, live, logs, metrics, rest
from connectors.api.auth import KeyRing
from connectors.api.context import ApiContext, ApiSettings, Feed
from connectors.api.jobs import Backtests
from connectors.api.routebook import RouteBook
from connectors.api.rulebook import RuleBook, RuleSink
from connectors.api.store import Store
from connectors.api.streams import Hub
from operators.records import EnrichedTx

log = logging.getLogger("scorpius.api")


class BodyLimit:
    """Refuses a request body over ``max_bytes`` with 413, whether or not it declares a length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.error_response(
            413, "too_large", f"request body over {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def uvicorn_options(max_frame_bytes: int, ws_deflate: bool) -> dict[str, Any]:
    """How uvicorn must serve the app (``scorpius serve`` and the tests' servers alike)."""
    return {
        # Request lines carry query strings, and a stream URL may carry a key: the app logs
        # method, path and status itself.
        "access_log": False,
        "ws_max_size": max_frame_bytes,
        # Compression runs once per client for every frame (its state is per connection): with
        # it, fanning a stream out to 100 clients costs several times the CPU of sending it.
        "ws_per_message_deflate": ws_deflate,
    }


def create_app(
    settings: ApiSettings,
    *,
    rule_sink: RuleSink,
    sample: Callable[[], list[EnrichedTx]],
    feed_factory: Callable[[Hub], Feed] | None = None,
) -> FastAPI:
    logs.install()
    store = Store(settings.database_url)
    hub = Hub(settings.history, settings.client_queue, settings.max_skips)
    ctx = ApiContext(
        settings=settings,
        store=store,
        keys=KeyRing(store, settings.jwt_secret, settings.jwt_ttl_s),
        hub=hub,
        rules=RuleBook(store, rule_sink),
        # The rule sink carries the alert routes too (connectors/rule_sets.py).
        routes=RouteBook(store, rule_sink, settings.alert_channels, settings.alert_recipients),
        backtests=Backtests(store, settings.archive_url, settings.storage_options or None),
        sample=sample,
        feed_factory=feed_factory,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.migrate)
        hub.bind(asyncio.get_running_loop())
        status = asyncio.create_task(hub.run_status())
        pump = asyncio.create_task(hub.run_pump())
        if feed_factory is not None:
            ctx.feed = feed_factory(hub)
            hub.feed_name = ctx.feed.name
            ctx.feed.start()
        try:
            yield
        finally:
            status.cancel()
            pump.cancel()
            if ctx.feed is not None:
                await run_in_threadpool(ctx.feed.stop)
            ctx.backtests.close()
            store.close()

    app = FastAPI(
        title="Scorpius API",
        version="1",
        description="Mempool and MEV alerts, detections and transactions: REST and live streams. "
        "See docs/api.md.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.REQUEST_SECONDS.labels(
            template, request.method, f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        log.info("%s %s %d", request.method, request.url.path, response.status_code)
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.get("/health", tags=["operations"])
    async def health() -> JSONResponse:
        def db_ok() -> bool:
            try:
                with store.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return True
            except Exception:
                return False

        ok = await run_in_threadpool(db_ok)
        body = {
            "status": "ok" if ok else "degraded",
            "feed": hub.feed_name,
            "feed_ok": hub.feed_ok,
            "db": "ok" if ok else "down",
            "streams": hub.client_count,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(rest.build_router())
    app.include_router(live.build_router())
    console = ctx.console
    if console is not None:
        app.mount("/", StaticFiles(directory=console, html=True), name="console")
    return app
