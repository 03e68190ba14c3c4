"""The fan-out hub: one publisher (a feed), many stream clients, each behind a bounded queue.

Runs on the server's event loop. Feeds hand batches over with ``Hub.publish_threadsafe`` from
their own thread. ``publish`` encodes each message once, keeps it in the stream's retained
history (for resume), and offers it to every client whose filter matches. A client whose queue is
full is skipped ahead: its queue is emptied and it is told how many messages it missed; after
``max_skips`` skips within a minute it is closed. Nothing a client does slows the others or the
feed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.api import metrics
from connectors.api.filters import Facets, StreamFilter, facets
from operators.metrics import reason_class
from operators.records import encode_json

STREAMS = ("alerts", "transactions", "detections", "status")
# The message type of each stream's records, and the field holding a record's natural key.
MESSAGE_TYPE = {
    "alerts": "alert",
    "transactions": "tx",
    "detections": "detection",
    "status": "status",
}
_SKIP_WINDOW_S = 60.0
# Publishing rounds are at least this far apart (the first after a pause goes at once): at 1,000
# messages/s to 100 batched clients, 50 frames/s each instead of one per feed read.
TICK_S = 0.02
RATE_WINDOW_S = 10.0
_MAX_REASONS = 100  # distinct dead-letter reasons counted; the rest as "other"


def encode_frame(message: Mapping[str, Any]) -> str:
    """One stream message as compact JSON (its ``type`` first: the SSE twin reads it there)."""
    return encode_json(message).decode()


def record_key(stream: str, record: Mapping[str, Any]) -> str:
    if stream == "transactions":
        tx = record.get("tx") or {}
        return str(tx.get("hash", ""))
    return str(record.get("key", ""))


def _event_ms(stream: str, record: Mapping[str, Any]) -> int | None:
    """When the flow produced the record (alerts: created; others: first seen / detected)."""
    if stream == "transactions":
        value = (record.get("tx") or {}).get("first_seen_ms")
    elif stream == "detections":
        value = record.get("detected_ms")
    else:
        value = record.get("created_ms")
    return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True)
class Message:
    cursor: int
    key: str
    facets: Facets
    frame: str


class Chunk:
    """The messages of one published slice that one filter lets through. Every client with that
    filter queues the same chunk, so a batched frame is joined once and sent to all of them."""

    __slots__ = ("_batch", "frames", "last_cursor")

    def __init__(self, frames: list[str], last_cursor: int) -> None:
        self.frames = frames
        self.last_cursor = last_cursor
        self._batch: str | None = None

    def batch(self) -> str:
        if self._batch is None:
            self._batch = "[" + ",".join(self.frames) + "]"
        return self._batch


@dataclass(eq=False)
class Client:
    """One open stream connection: a bounded queue of chunks, counted in messages."""

    stream: str
    filter: StreamFilter
    capacity: int
    max_skips: int
    queue: deque[Chunk] = field(default_factory=deque)
    queued: int = 0  # messages in ``queue``
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    missed: int = 0
    skips: deque[float] = field(default_factory=deque)
    closed: str | None = None  # why the hub closed it
    gone: bool = False  # the connection ended on the client's side
    last_cursor: int = 0

    def offer(self, chunk: Chunk) -> None:
        if self.closed is not None:
            return
        size = len(chunk.frames)
        if self.queued + size > self.capacity:
            self._skip()
            if self.closed is not None:
                return
            if size > self.capacity:  # a backlog larger than the queue: its newest part only
                self.missed += size - self.capacity
                metrics.DROPPED.labels(self.stream).inc(size - self.capacity)
                chunk = Chunk(chunk.frames[-self.capacity :], chunk.last_cursor)
                size = self.capacity
        self.queue.append(chunk)
        self.queued += size
        self.last_cursor = chunk.last_cursor
        self.wakeup.set()

    def _skip(self) -> None:
        dropped = self.queued
        self.queue.clear()
        self.queued = 0
        self.missed += dropped
        metrics.DROPPED.labels(self.stream).inc(dropped)
        now = time.monotonic()
        self.skips.append(now)
        while self.skips and self.skips[0] < now - _SKIP_WINDOW_S:
            self.skips.popleft()
        if len(self.skips) > self.max_skips:
            self.closed = "too slow: the queue overflowed too often"
        self.wakeup.set()

    def _missed_frame(self) -> list[str]:
        if not self.missed:
            return []
        frame = encode_frame({"type": "missed", "count": self.missed, "cursor": self.last_cursor})
        self.missed = 0
        return [frame]

    def _drain(self) -> list[Chunk]:
        chunks = list(self.queue)
        self.queue.clear()
        self.queued = 0
        self.wakeup.clear()
        return chunks

    def take(self) -> list[str]:
        """What to send now, one message per frame: a ``missed`` notice first when messages were
        skipped."""
        frames = self._missed_frame()
        for chunk in self._drain():
            frames.extend(chunk.frames)
        return frames

    def take_batch(self) -> tuple[str | None, int]:
        """What to send now as one frame (a JSON array), and how many messages it holds. A
        client that keeps up has one chunk queued: its shared frame goes out as it is."""
        notice = self._missed_frame()
        chunks = self._drain()
        count = sum(len(c.frames) for c in chunks)
        if not notice and len(chunks) == 1:
            return chunks[0].batch(), count
        frames = notice + [frame for c in chunks for frame in c.frames]
        if not frames:
            return None, 0
        return "[" + ",".join(frames) + "]", count


def _chunk(stream_filter: StreamFilter, messages: list[Message]) -> Chunk | None:
    if stream_filter.everything:
        matched = messages
    else:
        matched = [m for m in messages if stream_filter.matches(m.facets)]
    if not matched:
        return None
    return Chunk([m.frame for m in matched], matched[-1].cursor)


class _Rate:
    """Counts per second over the last ``RATE_WINDOW_S`` seconds."""

    def __init__(self) -> None:
        self._seconds: deque[tuple[float, int]] = deque()

    def add(self, count: int) -> None:
        second = float(int(time.time()))
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1] = (second, self._seconds[-1][1] + count)
            return
        self._seconds.append((second, count))
        while self._seconds and self._seconds[0][0] < second - RATE_WINDOW_S:
            self._seconds.popleft()

    def per_s(self, now: float) -> float:
        recent = sum(n for second, n in self._seconds if second >= now - RATE_WINDOW_S)
        return round(recent / RATE_WINDOW_S, 2)


@dataclass
class _Stream:
    history: deque[Message]
    # Clients grouped by filter: each group's matches are found once per published slice.
    groups: dict[StreamFilter, set[Client]] = field(default_factory=dict)
    cursor: int = 0
    total: int = 0
    newest_event_ms: int | None = None
    rate: _Rate = field(default_factory=_Rate)

    @property
    def client_count(self) -> int:
        return sum(len(g) for g in self.groups.values())


class Hub:
    def __init__(
        self,
        history: int = 10_000,
        client_queue: int = 1000,
        max_skips: int = 3,
        tick_s: float = TICK_S,
    ) -> None:
        self._streams = {name: _Stream(deque(maxlen=history)) for name in STREAMS}
        self.client_queue = client_queue
        self.max_skips = max_skips
        self.tick_s = tick_s
        self.dead_letters: Counter[str] = Counter()  # by stage
        self.dead_reasons: Counter[str] = Counter()  # by reason's class (operators/metrics.py)
        self._dead_rate = _Rate()
        self.feed_name = "none"
        self.feed_ok = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Batches from the feed's thread (deque appends and pops are thread-safe).
        self._intake: deque[tuple[str, list[dict[str, Any]]]] = deque()
        self._intake_ready = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # --- publishing ------------------------------------------------------------------------

    def publish(self, stream: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Encodes each record once, keeps it for resume, and queues what each filter group lets
        through as one chunk shared by the group's clients."""
        s = self._streams[stream]
        kind = MESSAGE_TYPE[stream]
        messages: list[Message] = []
        for record in records:
            s.cursor += 1
            key = record_key(stream, record)
            frame = encode_frame({"type": kind, "cursor": s.cursor, "key": key, "data": record})
            message = Message(s.cursor, key, facets(stream, record), frame)
            s.history.append(message)
            messages.append(message)
            event_ms = _event_ms(stream, record)
            if event_ms is not None:
                s.newest_event_ms = event_ms
        if not messages:
            return
        for stream_filter, clients in s.groups.items():
            chunk = _chunk(stream_filter, messages)
            if chunk is not None:
                for client in clients:
                    client.offer(chunk)
        count = len(messages)
        s.total += count
        s.rate.add(count)
        metrics.PUBLISHED.labels(stream).inc(count)

    def publish_dead_letters(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Dead letters are counted (by stage and by reason), not streamed."""
        count = 0
        for record in records:
            count += 1
            self.dead_letters[str(record.get("stage", "?"))[:64]] += 1
            reason = reason_class(str(record.get("reason", "")))
            if reason not in self.dead_reasons and len(self.dead_reasons) >= _MAX_REASONS:
                reason = "other"
            self.dead_reasons[reason] += 1
        self._dead_rate.add(count)

    def publish_threadsafe(self, stream: str, records: list[dict[str, Any]]) -> None:
        """From a feed's thread: queue a batch for the event loop's pump."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._intake.append((stream, records))
        loop.call_soon_threadsafe(self._intake_ready.set)

    async def run_pump(self) -> None:
        """Publishes what the feeds handed over, in rounds at least ``tick_s`` apart: what arrives
        meanwhile goes out together, as one chunk per filter group and so one frame per batched
        client (a frame costs the server a send and the client a wake-up, whatever its size).
        Large rounds go in slices, yielding between them: clients drain their queues between
        slices, so a burst from the feed larger than a client's queue is no overflow."""
        loop = asyncio.get_running_loop()
        step = max(1, self.client_queue // 4)
        while True:
            await self._intake_ready.wait()
            self._intake_ready.clear()
            started = loop.time()
            pending: dict[str, list[dict[str, Any]]] = {}
            while self._intake:
                stream, records = self._intake.popleft()
                if stream == "dead_letters":
                    self.publish_dead_letters(records)
                else:
                    pending.setdefault(stream, []).extend(records)
            for stream, records in pending.items():
                for start in range(0, len(records), step):
                    self.publish(stream, records[start : start + step])
                    await asyncio.sleep(0)
            rest = self.tick_s - (loop.time() - started)
            if rest > 0:
                await asyncio.sleep(rest)

    def set_feed_state(self, ok: bool) -> None:
        self.feed_ok = ok

    # --- clients ---------------------------------------------------------------------------

    def open(
        self, stream: str, stream_filter: StreamFilter, since: int | None, last_key: str | None
    ) -> tuple[Client, int | None]:
        """A new client, primed with what it missed (retained history after ``since`` or
        ``last_key``). The second value is -1 when the resume point is no longer retained."""
        s = self._streams[stream]
        client = Client(stream, stream_filter, self.client_queue, self.max_skips)
        client.last_cursor = s.cursor
        lost: int | None = None
        if since is not None or last_key is not None:
            backlog = self._after(s, since, last_key)
            if backlog is None:
                lost = -1
            else:
                chunk = _chunk(stream_filter, backlog)
                if chunk is not None:
                    client.offer(chunk)
        s.groups.setdefault(stream_filter, set()).add(client)
        metrics.OPEN_STREAMS.labels(stream).inc()
        return client, lost

    def refilter(self, client: Client, stream_filter: StreamFilter) -> None:
        """The client's new filter applies from the next published message on."""
        s = self._streams[client.stream]
        self._leave(s, client)
        client.filter = stream_filter
        s.groups.setdefault(stream_filter, set()).add(client)

    @staticmethod
    def _after(s: _Stream, since: int | None, last_key: str | None) -> list[Message] | None:
        history = list(s.history)
        if since is not None:
            if since >= s.cursor:
                return []
            if not history or since < history[0].cursor - 1:
                return None
            return [m for m in history if m.cursor > since]
        for i in range(len(history) - 1, -1, -1):
            if history[i].key == last_key:
                return history[i + 1 :]
        return None

    def close(self, client: Client) -> None:
        if self._leave(self._streams[client.stream], client):
            metrics.OPEN_STREAMS.labels(client.stream).dec()

    @staticmethod
    def _leave(s: _Stream, client: Client) -> bool:
        group = s.groups.get(client.filter)
        if group is None or client not in group:
            return False
        group.discard(client)
        if not group:
            del s.groups[client.filter]
        return True

    def cursor(self, stream: str) -> int:
        return self._streams[stream].cursor

    @property
    def client_count(self) -> int:
        return sum(s.client_count for s in self._streams.values())

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = time.time()
        rates: dict[str, float] = {}
        totals: dict[str, int] = {}
        lag: dict[str, int] = {}
        for name in ("alerts", "transactions", "detections"):
            s = self._streams[name]
            rates[name] = s.rate.per_s(now)
            totals[name] = s.total
            if s.newest_event_ms is not None:
                lag[name] = max(0, int(now * 1000) - s.newest_event_ms)
        dead_total = sum(self.dead_letters.values())
        totals["dead_letters"] = dead_total
        rates["dead_letters"] = self._dead_rate.per_s(now)
        return {
            "at_ms": int(now * 1000),
            "feed": self.feed_name,
            "rates": rates,
            "totals": totals,
            "lag_ms": lag,
            "dead_letters": {
                "total": dead_total,
                "by_stage": dict(self.dead_letters),
                "by_reason": dict(self.dead_reasons),
            },
            "sinks": {"feed": "ok" if self.feed_ok else "down"},
            "clients": self.client_count,
        }

    async def run_status(self, interval_s: float = 1.0) -> None:
        while True:
            self.publish("status", [self.status()])
            await asyncio.sleep(interval_s)
