"""A websocket server on a free loopback port, run in its own thread and event loop for the
length of a ``with`` block: the base of the tests' misbehaving nodes and L2 feeds (websockets'
own server speaks the real protocol; only what it sends is scripted)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Self

from websockets.asyncio.server import ServerConnection, serve

from tests.services.ports import free_port


class LocalWsServer:
    path = ""  # what follows host:port in ``url``

    def __init__(self) -> None:
        self.port = free_port()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def _serve_options(self) -> dict[str, Any]:
        """More keyword arguments of websockets' ``serve``."""
        return {}

    async def _handle(self, conn: ServerConnection) -> None:
        raise NotImplementedError

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop: asyncio.Future[None] = self._loop.create_future()
        options = self._serve_options()
        async with serve(self._handle, "127.0.0.1", self.port, max_size=None, **options):
            self._ready.set()
            await self._stop

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10), f"{type(self).__name__} did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(timeout=10)
