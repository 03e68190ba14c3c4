"""The one reconnect loop of a streaming source session (RPC node, L2 feed): serve, fail, wait, again.

A session (``ReconnectingSession``) gives ``_serve_once`` (connect and stream until something
breaks) and ``_failed`` (what a failure means: log it, dead-letter it, and return a fixed delay or
None for the backoff). ``run``
races serving against ``stop``, waits ``connectors.retry.backoff_delay`` between attempts (reset
after a connection that lived longer than the backoff cap: it was healthy, so come back quickly)
and counts each reconnect in ``scorpius_source_reconnects``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed

from connectors.retry import backoff_delay
from connectors.rpc.endpoints import Endpoint, scrub
from operators.metrics import SOURCE_RECONNECTS

log = logging.getLogger(__name__)

MESSAGE_TOO_BIG = 1009  # websocket close code sent when a frame exceeds max_size


class WrongChain(Exception):
    """The endpoint serves another chain than it is configured for: nothing is read from it."""


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_s: float  # the backoff's first delay
    max_s: float  # the backoff's cap
    wrong_chain_retry_s: float  # the wait after a WrongChain (a misconfiguration: check rarely)
    max_frame_bytes: int  # the websocket frame limit (an oversize close names it)


async def serve_until_stopped(
    serve_once: Callable[[], Coroutine[Any, Any, None]], stop: asyncio.Event
) -> None:
    """``serve_once()`` until it ends or ``stop`` is set; its exception, if it raised one."""
    serve = asyncio.create_task(serve_once())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({serve, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (serve, stopper):
        task.cancel()
    await asyncio.gather(serve, stopper, return_exceptions=True)
    if serve in done and serve.exception() is not None:
        raise serve.exception()  # type: ignore[misc]


def oversize_close(exc: ConnectionClosed, max_frame_bytes: int) -> str | None:
    """The dead-letter reason when we closed the websocket for a frame over ``max_frame_bytes``."""
    if exc.sent is not None and exc.sent.code == MESSAGE_TOO_BIG:
        return f"oversize frame: over max_frame_bytes={max_frame_bytes}, connection re-opened"
    return None


class ReconnectingSession(ABC):
    """A streaming source session: ``run`` serves one connection after another until stopped."""

    def __init__(self, endpoint: Endpoint, kind: str, policy: ReconnectPolicy) -> None:
        self.endpoint = endpoint
        self._chain = str(endpoint.chain_id)
        self._name = endpoint.name
        self._kind = kind  # the source label of scorpius_source_reconnects
        self._policy = policy

    @abstractmethod
    async def _serve_once(self) -> None:
        """Connect and stream until something breaks (raise) or the stream ends."""

    @abstractmethod
    def _dead(self, reason: str) -> None:
        """Report ``reason`` as a dead letter of this source."""

    @abstractmethod
    def _oversize(self) -> None:
        """A frame was over the limit (a session may stop asking for what sent it)."""

    def _failed(self, exc: Exception) -> float | None:
        """What a failure means: log it, dead-letter what is data; a fixed delay, or None for the
        backoff. Sessions add their own errors in ``_failed_otherwise``."""
        if isinstance(exc, WrongChain):
            self._dead(str(exc))
            return self._policy.wrong_chain_retry_s
        if isinstance(exc, ConnectionClosed):
            oversize = oversize_close(exc, self._policy.max_frame_bytes)
            if oversize is not None:
                self._oversize()
                self._dead(oversize)
            log.info("%s: connection closed: %s", self._name, self._describe(exc))
            return None
        return self._failed_otherwise(exc)

    @abstractmethod
    def _failed_otherwise(self, exc: Exception) -> float | None:
        """``_failed`` for the errors of this kind of session."""

    @abstractmethod
    def _down(self) -> None:
        """The connection is gone (after a failure or a stop)."""

    def _describe(self, exc: BaseException) -> str:
        """An error for the log, without the URL's credentials (aiohttp errors quote the URL)."""
        return scrub(f"{type(exc).__name__}: {exc}", self.endpoint.url)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop``: see the module docstring."""
        policy = self._policy
        rng = random.Random()
        attempt = 0
        while not stop.is_set():
            started = time.monotonic()
            delay: float | None = None
            try:
                await serve_until_stopped(self._serve_once, stop)
            except Exception as exc:
                delay = self._failed(exc)
            finally:
                self._down()
            if stop.is_set():
                return
            if time.monotonic() - started > policy.max_s:
                attempt = 0  # it was a healthy connection that broke: retry quickly
            if delay is None:
                delay = backoff_delay(attempt, policy.initial_s, policy.max_s, rng)
                attempt += 1
            log.info("%s: reconnecting in %.1f s", self._name, delay)
            SOURCE_RECONNECTS.labels(self._kind, self._chain).inc()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
