"""The bytewax source: one partition per (chain, URL), each a session on its own event loop.

Each partition runs its endpoint session in a thread with its own asyncio loop rather than inside
``next_batch`` (``bytewax.inputs.batch_async``): the loop then reads frames the moment they
arrive, so ``seen_ms`` is the real receive time and websocket pings are answered even while the
worker is busy downstream. The thread hands items over through a queue that ``next_batch``
drains without blocking. Partitions are independent, so bytewax spreads them (and so chains and
URLs) over workers and processes. The source keeps no resume state: a live mempool cannot be
re-read, and the dedup step downstream absorbs what a restart delivers twice.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors.rpc.endpoints import RPC, Endpoint
from connectors.rpc.feeds import FeedSession
from connectors.rpc.session import EndpointSession
from connectors.rpc.settings import RpcSettings
from operators.metrics import SOURCE_LAG
from operators.records import DeadLetter, RawItem

Item = RawItem | DeadLetter
BATCH = 1024
IDLE_WAKE = timedelta(milliseconds=5)


class _RpcPartition(StatefulSourcePartition[Item, None]):
    def __init__(self, endpoint: Endpoint, cfg: RpcSettings, stop: threading.Event | None) -> None:
        self._items: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self._external_stop = stop
        self._lag = SOURCE_LAG.labels(endpoint.feed, endpoint.partition)
        self._awake: datetime | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._session: EndpointSession | FeedSession = (
            EndpointSession(endpoint, cfg, self._items.put)
            if endpoint.feed == RPC
            else FeedSession(endpoint, cfg, self._items.put)
        )
        self._thread = threading.Thread(
            target=self._run, name=f"rpc {endpoint.partition}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._session.run(self._stop))
        finally:
            self._loop.close()

    def next_batch(self) -> list[Item]:
        batch: list[Item] = []
        while len(batch) < BATCH:
            try:
                batch.append(self._items.get_nowait())
            except queue.Empty:
                break
        self._lag.set(self._items.qsize())
        if not batch and self._external_stop is not None and self._external_stop.is_set():
            self.close()
            raise StopIteration
        # Idle: come back in a few ms rather than spinning; busy: come back at once.
        self._awake = None if batch else datetime.now(UTC) + IDLE_WAKE
        return batch

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)


class RpcSource(FixedPartitionedSource[Item, None]):
    """Pending txs and mined blocks of every configured (chain, URL), plus dead letters.

    ``stop`` lets an embedding program (and the tests) end the source: once set, each partition
    hands on what it already received and then finishes.
    """

    def __init__(
        self, endpoints: Sequence[Endpoint], cfg: RpcSettings, stop: threading.Event | None = None
    ) -> None:
        self._endpoints = {e.partition: e for e in endpoints}
        self._cfg = cfg
        self._stop = stop

    def list_parts(self) -> list[str]:
        return list(self._endpoints)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _RpcPartition:
        return _RpcPartition(self._endpoints[for_part], self._cfg, self._stop)
