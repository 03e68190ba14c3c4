"""One endpoint's life: connect, verify the chain, subscribe (or poll), fetch, reconnect forever.

Everything the session produces goes through ``emit``: RawItems for pending transactions ("tx",
the node's tx object) and mined blocks ("block", the bundle ``{"block", "receipts", "traces"}``),
DeadLetters for what it refused (garbage or oversize frames, a node on the wrong chain, a block it
could not fetch). Connection trouble is not data: it is retried with exponential backoff and
jitter and counted in ``scorpius_source_reconnects``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
import websockets
from websockets.asyncio.client import connect

from connectors.rpc.client import (
    NULL,
    Call,
    HttpRpc,
    OversizeReply,
    RpcError,
    Transport,
    WsRpc,
)
from connectors.rpc.endpoints import Endpoint
from connectors.rpc.reconnect import ReconnectingSession, ReconnectPolicy, WrongChain
from connectors.rpc.settings import RpcSettings
from operators.clock import now_ms
from operators.metrics import (
    RPC_CONNECTED,
    RPC_HEAD_DELAY_SECONDS,
    RPC_TX_UNAVAILABLE,
    SOURCE_ERRORS,
    SOURCE_MESSAGES,
    reason_class,
)
from operators.mev.private import watch_item
from operators.records import DeadLetter, RawItem
from operators.rpc_json import (
    BlockRef,
    decode_block_ref,
    decode_hash_ref,
    decode_hashes,
    decode_head_ref,
    decode_receipt_refs,
    decode_tx_or_hash,
    decode_txpool,
)

log = logging.getLogger(__name__)

STAGE = "source.rpc"
BODY_ATTEMPTS = 3
# A garbage frame may be as large as max_frame_bytes; its dead letter keeps the first MiB.
DEAD_LETTER_MAX_CHARS = 1 << 20

Emit = Callable[[RawItem | DeadLetter], None]


class HeadStall(Exception):
    """Subscribed, connected, answering pings, and yet no new head: providers do this."""


@dataclass
class _Head:
    number: int
    hash: str | None  # None: fetch by number (backfill, polling)
    seen_ms: int


def _receipts_match(receipts: bytes, block: BlockRef) -> bool:
    """Whether block receipts fetched by number are those of this block (one per tx)."""
    try:
        refs = decode_receipt_refs(receipts)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return len(refs) == len(block.transactions) and all(
        r.block_hash.lower() == block.hash.lower() for r in refs
    )


async def _supervise(tasks: list[asyncio.Task[None]], essential: asyncio.Task[None] | None) -> None:
    """Wait until a task fails (raise its error) or ``essential`` ends (the connection is over);
    other tasks may end quietly (a feature the node lacks)."""
    waiting = set(tasks)
    while waiting:
        done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
            if task is essential:
                return


def reconnect_policy(cfg: RpcSettings) -> ReconnectPolicy:
    return ReconnectPolicy(
        cfg.backoff_initial_s, cfg.backoff_max_s, cfg.wrong_chain_retry_s, cfg.max_frame_bytes
    )


def _nonce_order(key: str) -> tuple[int, str]:
    """txpool_content's nonce keys are decimal (geth) or hex text; emit a sender's txs in order."""
    try:
        return (int(key, 16) if key.startswith("0x") else int(key), key)
    except ValueError:
        return (-1, key)


class EndpointSession(ReconnectingSession):
    def __init__(self, endpoint: Endpoint, cfg: RpcSettings, emit: Emit) -> None:
        super().__init__(endpoint, "rpc", reconnect_policy(cfg))
        self.cfg = cfg
        self._emit_raw = emit
        # What the node offers, learned once and kept across reconnects.
        self._block_receipts: bool = True
        self._traces: bool = True
        self._txpool: bool = True
        self._reading_txpool = False  # a txpool_content reply in flight (it may be oversize)
        # The highest block handed on; survives reconnects so missed blocks are fetched back.
        self._last_number: int | None = None
        self._last_head = time.monotonic()
        self._messages = SOURCE_MESSAGES.labels("rpc", self._chain)
        self._connected = RPC_CONNECTED.labels(self._chain, self._name)
        self._up = False

    # --- output ---------------------------------------------------------------------------

    def _item(self, kind: str, seen_ms: int, payload: bytes, ref: str | None) -> None:
        self._messages.inc()
        self._emit_raw(
            RawItem(
                kind,
                self.endpoint.chain_id,
                self._name,
                seen_ms,
                payload,
                ref.lower() if ref else None,
            )
        )

    def _watching(self, up: bool) -> None:
        """The pending watch came up or went down: the gauge, and a ``watch`` item on each change
        (the private-flow step judges mined txs by it, operators/mev/private.py)."""
        if up != self._up:
            self._up = up
            self._emit_raw(watch_item(self.endpoint.chain_id, self._name, up, now_ms()))
        self._connected.set(1 if up else 0)

    def _garbage(self, what: str, exc: Exception, frame: bytes | msgspec.Raw) -> None:
        """A frame the node sent that does not decode: a dead letter with the frame's text."""
        self._dead(f"garbage frame: {what}: {exc}", bytes(frame).decode("utf-8", "replace"))

    def _dead(self, reason: str, payload: str = "") -> None:
        if len(payload) > DEAD_LETTER_MAX_CHARS:
            reason = f"{reason} (payload cut to {DEAD_LETTER_MAX_CHARS} of {len(payload)} chars)"
            payload = payload[:DEAD_LETTER_MAX_CHARS]
        SOURCE_ERRORS.labels("rpc", self._chain, reason_class(reason)).inc()
        log.warning("%s: %s", self._name, reason)
        self._emit_raw(
            DeadLetter(STAGE, reason, payload, self._name, self.endpoint.chain_id, now_ms())
        )

    # --- the reconnect loop ---------------------------------------------------------------

    def _down(self) -> None:
        self._watching(False)
        self._reading_txpool = False

    def _oversize(self) -> None:
        if self._reading_txpool:  # not worth a reconnect loop: read it no more
            self._txpool = False

    def _failed_otherwise(self, exc: Exception) -> float | None:
        if isinstance(exc, OversizeReply):
            self._oversize()
            self._dead(f"oversize frame: {exc}")
        elif isinstance(
            exc, OSError | TimeoutError | RpcError | aiohttp.ClientError | msgspec.DecodeError
        ):
            log.info("%s: connection failed: %s", self._name, self._describe(exc))
        elif isinstance(exc, websockets.exceptions.WebSocketException):
            log.info("%s: websocket failed: %s", self._name, self._describe(exc))
        elif isinstance(exc, HeadStall):
            log.warning("%s: %s; reconnecting", self._name, self._describe(exc))
        else:  # a reply of a shape nobody expected: report, keep going
            # No traceback in the log: its last line is the raw message, URL and all.
            where = exc.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            at = f" at {where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else ""
            log.error("%s: session failed%s: %s", self._name, at, self._describe(exc))
            self._dead(f"source error: {self._describe(exc)}")
        return None

    async def _serve_once(self) -> None:
        if self.endpoint.is_websocket:
            await self._serve_ws()
        else:
            await self._serve_http()

    async def _check_chain(self, rpc: Transport) -> None:
        answer = msgspec.json.decode(await rpc.call("eth_chainId"))
        chain_id = int(answer, 16) if isinstance(answer, str) else None
        if chain_id != self.endpoint.chain_id:
            raise WrongChain(
                f"wrong chain id: {self._name} answered eth_chainId {answer!r} "
                f"but is configured for chain {self.endpoint.chain_id}; not ingesting from it"
            )

    # --- websocket ------------------------------------------------------------------------

    async def _serve_ws(self) -> None:
        hashes: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        heads: asyncio.Queue[_Head] = asyncio.Queue()

        def on_notification(kind: str, result: msgspec.Raw, received: int) -> None:
            if kind == "pending":
                self._on_pending(result, received, hashes)
            else:
                self._on_head(result, received, heads)

        def on_garbage(reason: str, text: str) -> None:
            self._dead(reason, text)

        async with connect(
            self.endpoint.url,
            max_size=self.cfg.max_frame_bytes,
            open_timeout=self.cfg.request_timeout_s,
            ping_interval=20,
            ping_timeout=20,
        ) as ws:
            rpc = WsRpc(ws, self.cfg.request_timeout_s, on_notification, on_garbage)
            reader = asyncio.create_task(rpc.read_loop())
            workers: list[asyncio.Task[None]] = [reader]
            try:
                await self._check_chain(rpc)
                workers.append(asyncio.create_task(self._fetch_pending(rpc, hashes)))
                workers.append(asyncio.create_task(self._process_heads(rpc, heads)))
                if await self._subscribe_pending(rpc):
                    workers.append(asyncio.create_task(self._read_txpool(rpc)))
                else:
                    workers.append(asyncio.create_task(self._poll_pending(rpc, hashes)))
                try:
                    await rpc.subscribe("heads", ["newHeads"])
                    if self.cfg.head_stall_s > 0:
                        workers.append(asyncio.create_task(self._watch_heads()))
                except RpcError:
                    workers.append(asyncio.create_task(self._poll_heads(rpc, heads)))
                self._watching(True)
                log.info("%s: connected to chain %d", self._name, self.endpoint.chain_id)
                await _supervise(workers, reader)
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    async def _subscribe_pending(self, rpc: WsRpc) -> bool:
        """Full tx objects if the node offers them, else hashes; False if neither."""
        choices: list[list[Any]] = [["newPendingTransactions"]]
        if self.cfg.pending_tx_objects:
            choices.insert(0, ["newPendingTransactions", True])
        for params in choices:
            try:
                await rpc.subscribe("pending", params)
                return True
            except RpcError as exc:
                log.info("%s: %s", self._name, exc)
        return False

    def _on_pending(
        self, result: msgspec.Raw, received: int, hashes: asyncio.Queue[tuple[str, int]]
    ) -> None:
        try:
            tx = decode_tx_or_hash(result)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._garbage("pending tx notification", exc, result)
            return
        if isinstance(tx, str):  # the node sends hashes only (or ignored the full-object flag)
            hashes.put_nowait((tx, received))
        else:
            self._item("tx", received, bytes(result), tx.hash)

    async def _watch_heads(self) -> None:
        limit = self.cfg.head_stall_s
        self._last_head = time.monotonic()
        while True:
            await asyncio.sleep(limit / 4)
            if time.monotonic() - self._last_head > limit:
                raise HeadStall(f"no new head for {limit:g}s")

    def _on_head(self, result: msgspec.Raw, received: int, heads: asyncio.Queue[_Head]) -> None:
        self._last_head = time.monotonic()
        try:
            head = decode_head_ref(result)
            number, timestamp = int(head.number, 16), int(head.timestamp, 16)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            self._garbage("new head notification", exc, result)
            return
        if timestamp:
            RPC_HEAD_DELAY_SECONDS.labels(self._chain).observe(
                max(0.0, received / 1000 - timestamp)
            )
        heads.put_nowait(_Head(number, head.hash, received))

    # --- pending transactions ---------------------------------------------------------------

    async def _fetch_pending(self, rpc: Transport, hashes: asyncio.Queue[tuple[str, int]]) -> None:
        """Announced hashes → tx objects, in batches: what arrives while one batch is in flight
        makes up the next, so batching adds no waiting of its own."""
        while True:
            batch = [await hashes.get()]
            while len(batch) < self.cfg.fetch_batch and not hashes.empty():
                batch.append(hashes.get_nowait())
            results = await rpc.batch([("eth_getTransactionByHash", [h]) for h, _ in batch])
            for (tx_hash, seen), result in zip(batch, results, strict=True):
                if isinstance(result, RpcError):
                    self._dead(f"tx fetch failed: {result}", tx_hash)
                elif bytes(result) == NULL:
                    RPC_TX_UNAVAILABLE.labels(self._chain).inc()  # mined or evicted meanwhile
                else:
                    self._item("tx", seen, bytes(result), tx_hash)

    async def _read_txpool(self, rpc: Transport) -> None:
        """The node's pending pool, read once the subscription (or filter) is in place.

        A subscription announces only what arrives after it: txs that reached the node while
        the source was away (a dropped connection, a node restart, the backoff before
        reconnecting) would never be announced. Reading the pool after subscribing leaves no
        gap; what was already seen is dropped by the dedup step. Nodes without ``txpool_content``
        (most providers) are asked once; a pool too big for one frame is not asked for again.
        """
        if not self._txpool:
            return
        self._reading_txpool = True
        try:
            reply = await rpc.call("txpool_content")
        except RpcError as exc:
            if exc.unsupported:
                log.info(
                    "%s: no txpool_content; txs sent while disconnected are missed", self._name
                )
                self._txpool = False
            else:
                log.warning("%s: txpool_content failed: %s", self._name, exc)
            return
        except TimeoutError:
            log.warning("%s: txpool_content timed out; pool not read", self._name)
            return
        finally:
            self._reading_txpool = False
        received = now_ms()
        try:
            pool = decode_txpool(reply)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._garbage("txpool_content", exc, reply)
            return
        for by_nonce in pool.pending.values():
            for _, raw in sorted(by_nonce.items(), key=lambda kv: _nonce_order(kv[0])):
                try:
                    tx = decode_hash_ref(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    self._garbage("txpool_content entry", exc, raw)
                    continue
                self._item("tx", received, bytes(raw), tx.hash)

    async def _poll_pending(self, rpc: Transport, hashes: asyncio.Queue[tuple[str, int]]) -> None:
        """Pending hashes through a filter, for nodes without subscriptions (HTTP, some L2s)."""
        filter_id: str | None = None
        while True:
            try:
                if filter_id is None:
                    filter_id = msgspec.json.decode(
                        await rpc.call("eth_newPendingTransactionFilter")
                    )
                    await self._read_txpool(rpc)
                found = decode_hashes(await rpc.call("eth_getFilterChanges", [filter_id]))
            except RpcError as exc:
                if filter_id is None and exc.unsupported:
                    log.info("%s: no pending transactions offered: %s", self._name, exc)
                    return  # a private mempool (most L2s): blocks only
                filter_id = None  # expired filter: make a new one
                found = None
            received = now_ms()
            for tx_hash in found or ():
                hashes.put_nowait((tx_hash, received))
            await asyncio.sleep(self.cfg.poll_interval_s)

    # --- blocks -------------------------------------------------------------------------------

    async def _poll_heads(self, rpc: Transport, heads: asyncio.Queue[_Head]) -> None:
        while True:
            number = int(msgspec.json.decode(await rpc.call("eth_blockNumber")), 16)
            if self._last_number is None or number > self._last_number:
                heads.put_nowait(_Head(number, None, now_ms()))
            await asyncio.sleep(self.cfg.poll_interval_s)

    async def _process_heads(self, rpc: Transport, heads: asyncio.Queue[_Head]) -> None:
        """Heads in order; a gap (reconnect, polling) is filled by number, boundedly."""
        while True:
            head = await heads.get()
            last = self._last_number
            if last is not None and head.number > last + 1:
                first = max(last + 1, head.number - self.cfg.max_backfill_blocks)
                for number in range(first, head.number):
                    await self._fetch_block(rpc, _Head(number, None, now_ms()))
                log.info(
                    "%s: backfilled %d blocks (%d to %d)",
                    self._name,
                    head.number - first,
                    first,
                    head.number - 1,
                )
            await self._fetch_block(rpc, head)
            self._last_number = head.number if last is None else max(last, head.number)

    async def _fetch_block(self, rpc: Transport, head: _Head) -> None:
        """Body, receipts and traces of one block → a "block" RawItem (or a dead letter).

        The three requests go out together (one round trip, not three: it matters for 250 ms
        Arbitrum blocks). Receipts and traces are asked for by number, which every node accepts;
        receipts that turn out to belong to another block at that height (a reorg in between)
        are fetched again per tx.
        """
        what = head.hash or hex(head.number)
        number = hex(head.number)
        if head.hash is not None:
            body_call: Call = ("eth_getBlockByHash", [head.hash, True])
        else:
            body_call = ("eth_getBlockByNumber", [number, True])
        try:
            for attempt in range(BODY_ATTEMPTS):
                body, receipts, traces = await asyncio.gather(
                    rpc.call(*body_call),
                    self._block_receipts_of(rpc, number),
                    self._block_traces(rpc, number),
                )
                if bytes(body) != NULL:
                    break
                # Providers balance requests over backends; the one asked may lag the head.
                await asyncio.sleep(0.25 * 2**attempt)
            else:
                self._dead(f"block unavailable: {what} is not known to the node", what)
                return
            block = decode_block_ref(body)
            if receipts is None or not _receipts_match(receipts, block):
                receipts = await self._receipts_per_tx(rpc, block)
        except (RpcError, TimeoutError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._dead(f"block fetch failed: {what}: {exc!r}", what)
            return
        bundle = b'{"block":%s,"receipts":%s,"traces":%s}' % (bytes(body), receipts, traces)
        self._item("block", head.seen_ms, bundle, block.hash)

    async def _block_receipts_of(self, rpc: Transport, number: str) -> bytes | None:
        """All receipts of a block in one call, or None where the node lacks the method."""
        if not self._block_receipts:
            return None
        try:
            found = await rpc.call("eth_getBlockReceipts", [number])
        except RpcError as exc:
            if not exc.unsupported:
                raise
            log.info("%s: no eth_getBlockReceipts, fetching receipts per tx", self._name)
            self._block_receipts = False
            return None
        return None if bytes(found) == NULL else bytes(found)

    async def _receipts_per_tx(self, rpc: Transport, block: BlockRef) -> bytes:
        tx_hashes = [tx if isinstance(tx, str) else tx.hash for tx in block.transactions]
        parts: list[bytes] = []
        size = max(1, self.cfg.fetch_batch)
        for start in range(0, len(tx_hashes), size):
            calls: list[Call] = [
                ("eth_getTransactionReceipt", [h]) for h in tx_hashes[start : start + size]
            ]
            for result in await rpc.batch(calls):
                if isinstance(result, RpcError):
                    raise result
                parts.append(bytes(result))
        return b"[" + b",".join(parts) + b"]"

    async def _block_traces(self, rpc: Transport, number: str) -> bytes:
        """Parity-style traces where the node has trace_block; ``[]`` where it has not.

        A node that has the method but fails on one block (pruned state, overload) costs that
        block its traces, reported as a dead letter, not the block itself.
        """
        if not self._traces:
            return b"[]"
        try:
            found = await rpc.call("trace_block", [number])
        except RpcError as exc:
            if exc.unsupported:
                log.info("%s: no trace_block; blocks carry no traces", self._name)
                self._traces = False
            else:
                self._dead(f"traces unavailable: block {int(number, 16)}: {exc}", number)
            return b"[]"
        return b"[]" if bytes(found) == NULL else bytes(found)

    # --- HTTP -----------------------------------------------------------------------------

    async def _serve_http(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.cfg.request_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            rpc = HttpRpc(http, self.endpoint.url, self.cfg.max_frame_bytes)
            await self._check_chain(rpc)
            self._watching(True)
            hashes: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
            heads: asyncio.Queue[_Head] = asyncio.Queue()
            workers = [
                asyncio.create_task(self._poll_pending(rpc, hashes)),
                asyncio.create_task(self._fetch_pending(rpc, hashes)),
                asyncio.create_task(self._poll_heads(rpc, heads)),
                asyncio.create_task(self._process_heads(rpc, heads)),
            ]
            try:
                await _supervise(workers, None)
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
