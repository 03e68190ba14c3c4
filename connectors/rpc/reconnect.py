"""The one reconnect loop of a streaming source session (RPC node, L2 feed): serve, fail, wait, again.

A session gives ``serve_once`` (connect and stream until something breaks) and ``failed`` (what a
failure means: log it, dead-letter it, and return a fixed delay or None for the backoff). The loop
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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from connectors.retry import backoff_delay
from operators.metrics import SOURCE_RECONNECTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_s: float
    max_s: float


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


async def reconnect_forever(
    stop: asyncio.Event,
    serve_once: Callable[[], Coroutine[Any, Any, None]],
    failed: Callable[[Exception], float | None],
    down: Callable[[], None],
    *,
    name: str,
    kind: str,
    chain: str,
    policy: ReconnectPolicy,
) -> None:
    """Run a session until ``stop``: see the module docstring."""
    rng = random.Random()
    attempt = 0
    while not stop.is_set():
        started = time.monotonic()
        delay: float | None = None
        try:
            await serve_until_stopped(serve_once, stop)
        except Exception as exc:
            delay = failed(exc)
        finally:
            down()
        if stop.is_set():
            return
        if time.monotonic() - started > policy.max_s:
            attempt = 0  # it was a healthy connection that broke: retry quickly
        if delay is None:
            delay = backoff_delay(attempt, policy.initial_s, policy.max_s, rng)
            attempt += 1
        log.info("%s: reconnecting in %.1f s", name, delay)
        SOURCE_RECONNECTS.labels(kind, chain).inc()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
