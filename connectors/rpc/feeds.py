"""L2 sequencer feeds as partitions of the RPC source: Arbitrum's sequencer feed, Flashblocks.

A feed endpoint is a websocket that pushes frames without being asked (no JSON-RPC). The session
connects, reads frames, hands each to the pure decoder (``operators.l2``) in this thread, and
emits the resulting ``RawItem`` ("sequenced" / "preconfirmed") and ``DeadLetter`` records through
``emit``, like ``EndpointSession`` does for nodes; the dedup step after the source drops what
several URLs (or a replay after a reconnect) deliver twice.

- **Arbitrum**: the client sends nitro's feed headers (``Arbitrum-Feed-Client-Version: 2`` and,
  after a reconnect, ``Arbitrum-Requested-Sequence-Number`` = the next sequence number wanted, so
  the relay replays what was missed from its backlog). A relay answering with an
  ``Arbitrum-Chain-Id`` header other than the configured chain is refused (dead letter ``wrong
  chain id``) and retried only every ``wrong_chain_retry_s``.
- **Flashblocks**: binary frames are brotli-compressed JSON, text frames plain JSON; a frame that
  decompresses beyond ``max_frame_bytes`` is refused. Besides its txs, a flashblock whose
  receipts have logs is handed on whole (``RawItem(kind="flashblock")``) for the preconfirmed MEV
  step (``flows.steps.detect.preconfirmed_detect``).
- Frames larger than ``max_frame_bytes`` on the wire close the connection (websocket close code
  1009): dead letter ``oversize frame``, then reconnect. Connection trouble is retried with the RPC
  source's reconnect loop (``connectors.rpc.reconnect``) and counted in ``scorpius_source_reconnects``.
- **Sender recovery** (secp256k1, most of a tx's decode cost) runs inline, or with
  ``feed_recovery_threads`` >= 2 on one thread pool per session (so per source partition), shared
  by all its connections and shut down when the session stops. The frame's items come out in the
  same order either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import websockets
from websockets.asyncio.client import connect

from connectors.rpc.endpoints import ARBITRUM_FEED, Endpoint
from connectors.rpc.reconnect import ReconnectingSession, WrongChain
from connectors.rpc.session import Emit, reconnect_policy
from connectors.rpc.settings import RpcSettings
from operators.clock import now_ms
from operators.l2.arbitrum import decode_feed_frame
from operators.l2.flashblocks import FlashblockDecoder, flashblock_item
from operators.l2.items import INLINE, SenderRecovery, dead
from operators.metrics import (
    RPC_CONNECTED,
    SOURCE_ERRORS,
    SOURCE_MESSAGES,
    reason_class,
)
from operators.records import DeadLetter, RawItem

log = logging.getLogger(__name__)

FEED_CLIENT_VERSION = "2"
CHAIN_ID_HEADER = "Arbitrum-Chain-Id"


class FeedSession(ReconnectingSession):
    def __init__(self, endpoint: Endpoint, cfg: RpcSettings, emit: Emit) -> None:
        super().__init__(endpoint, endpoint.feed, reconnect_policy(cfg))
        self.cfg = cfg
        self._emit = emit
        self._stage = f"source.{endpoint.feed}"
        self._next_sequence: int | None = None  # Arbitrum: resume point after a reconnect
        self._messages = SOURCE_MESSAGES.labels(endpoint.feed, self._chain)
        self._connected = RPC_CONNECTED.labels(self._chain, self._name)
        self._flashblocks = FlashblockDecoder(endpoint.chain_id, self._name, cfg.max_frame_bytes)
        self._recovery = INLINE  # a pool only while ``run`` runs, see there
        self._decode: Callable[[bytes | str, int], list[RawItem | DeadLetter]] = (
            self._arbitrum if endpoint.feed == ARBITRUM_FEED else self._flashblock
        )

    # --- decoding -----------------------------------------------------------------------------

    def _arbitrum(self, frame: bytes | str, seen_ms: int) -> list[RawItem | DeadLetter]:
        items, highest = decode_feed_frame(
            frame, self.endpoint.chain_id, self._name, seen_ms, self._recovery
        )
        if highest is not None and (self._next_sequence is None or highest >= self._next_sequence):
            self._next_sequence = highest + 1
        return items

    def _flashblock(self, frame: bytes | str, seen_ms: int) -> list[RawItem | DeadLetter]:
        flashblock, items = self._flashblocks.decode(frame, seen_ms, self._recovery)
        if flashblock is not None:
            whole = flashblock_item(flashblock, items, self.endpoint.chain_id, self._name, seen_ms)
            if whole is not None:
                return [*items, whole]
        return items

    def on_frame(self, frame: bytes | str, seen_ms: int) -> None:
        for item in self._decode(frame, seen_ms):
            if isinstance(item, DeadLetter):
                SOURCE_ERRORS.labels(
                    self.endpoint.feed, self._chain, reason_class(item.reason)
                ).inc()
            else:
                self._messages.inc()
            self._emit(item)

    def _dead(self, reason: str) -> None:
        SOURCE_ERRORS.labels(self.endpoint.feed, self._chain, reason_class(reason)).inc()
        log.warning("%s: %s", self._name, reason)
        self._emit(dead(self._stage, reason, "", self._name, self.endpoint.chain_id, now_ms()))

    # --- the connection -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` (``ReconnectingSession.run``), recovering senders on this
        session's pool when one is configured; the pool ends with the session."""
        threads = self.cfg.feed_recovery_threads
        if threads < 2:
            await super().run(stop)
            return
        pool = ThreadPoolExecutor(threads, thread_name_prefix=f"recover {self._name}")
        self._recovery = SenderRecovery(pool, threads)
        try:
            await super().run(stop)
        finally:
            self._recovery = INLINE
            # Recovery is awaited inside on_frame, so nothing is left running here.
            pool.shutdown(wait=True, cancel_futures=True)

    def _headers(self) -> dict[str, str]:
        if self.endpoint.feed != ARBITRUM_FEED:
            return {}
        headers = {"Arbitrum-Feed-Client-Version": FEED_CLIENT_VERSION}
        if self._next_sequence is not None:
            headers["Arbitrum-Requested-Sequence-Number"] = str(self._next_sequence)
        return headers

    async def _serve_once(self) -> None:
        async with connect(
            self.endpoint.url,
            additional_headers=self._headers(),
            max_size=self.cfg.max_frame_bytes,
            open_timeout=self.cfg.request_timeout_s,
            ping_interval=20,
            ping_timeout=20,
        ) as ws:
            answered = ws.response.headers.get(CHAIN_ID_HEADER) if ws.response else None
            if answered is not None and answered.strip() != self._chain:
                raise WrongChain(
                    f"wrong chain id: {self._name} announced {CHAIN_ID_HEADER} {answered!r} "
                    f"but is configured for chain {self._chain}; not ingesting from it"
                )
            self._connected.set(1)
            log.info("%s: connected", self._name)
            async for frame in ws:
                self.on_frame(frame, now_ms())

    def _down(self) -> None:
        self._connected.set(0)

    def _oversize(self) -> None:
        """Nothing to stop asking for: a feed is one stream, re-opened."""

    def _failed_otherwise(self, exc: Exception) -> float | None:
        if isinstance(exc, OSError | TimeoutError | websockets.exceptions.WebSocketException):
            log.info("%s: connection failed: %s", self._name, self._describe(exc))
        else:  # a decoder bug must not end the partition
            log.error("%s: feed session failed: %s", self._name, self._describe(exc))
            self._dead(f"source error: {self._describe(exc)}")
        return None
