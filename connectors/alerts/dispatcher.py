"""Alert delivery off the flow's hot path.

``submit`` (called by the flow's sink) only routes, dedups and hands deliveries to a lane: it never
waits on a network. Each channel has a lane: one thread with a schedule of due deliveries, so a
dead Slack does not hold back email, and a rate-limited recipient does not hold back the others on
its channel (a delivery that must wait is rescheduled, the thread never sleeps on it).

A lane holds at most ``queue_size`` unfinished deliveries (queued, waiting to retry or in flight).
When it is full, a new delivery is dead-lettered at once with "alert queue full": the flow must
never block on an alert channel, and an alert must never vanish without a record.

Every delivery ends exactly once: sent, deduplicated, or a ``DeadLetter(stage="alerts")`` handed to
the dead-letter callback (after the last retry, on a permanent error, on a full queue, or still
pending when the drain at shutdown runs out).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.alerts.base import Channel, DeliveryError, Redactor
from connectors.alerts.ratelimit import ChannelLimits
from connectors.retry import backoff_delay
from operators.alert_router import Router, Target
from operators.clock import now_ms
from operators.metrics import (
    ALERT_QUEUE_DEPTH,
    ALERTS_DEDUPED,
    ALERTS_FAILED,
    ALERTS_RETRIED,
    ALERTS_SENT,
    DEAD_LETTERS,
    END_TO_END_SECONDS,
    STATE_EVICTIONS,
    reason_class,
)
from operators.records import Alert, DeadLetter, encode_json

logger = logging.getLogger(__name__)

STAGE = "alerts"


@dataclass(frozen=True)
class DeliveryPolicy:
    """Queueing, retries, dedup and rate limits (defaults: the ``alerts`` settings)."""

    queue_size: int
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    dedup_window_s: float
    # Dedup keys held at most (an alert flood must not grow memory without bound).
    dedup_max_keys: int
    channel_rate_per_s: float
    channel_burst: int
    recipient_rate_per_s: float
    recipient_burst: int


@dataclass
class Delivery:
    alert: Alert
    target: Target
    attempts: int = 0
    id: int = -1


@dataclass
class DispatcherState:
    """Resume state: dedup memory and every unfinished delivery (re-queued on resume)."""

    seen: dict[str, int] = field(default_factory=dict)
    pending: list[tuple[Alert, Target, int]] = field(default_factory=list)


def dedup_key(alert: Alert, target: Target) -> str:
    return f"{alert.key}|{target.channel}|{target.recipient}"


_STOP = object()


class _ChannelMetrics:
    """The channel's labelled series, looked up once (``labels()`` is costly per call)."""

    def __init__(self, channel: str) -> None:
        self.sent = ALERTS_SENT.labels(channel)
        self.failed = ALERTS_FAILED.labels(channel)
        self.retried = ALERTS_RETRIED.labels(channel)
        self.deduped = ALERTS_DEDUPED.labels(channel)
        self.depth = ALERT_QUEUE_DEPTH.labels(channel)


class _Lane:
    """One channel's thread, inbox and schedule."""

    def __init__(self, owner: Dispatcher, channel: Channel, policy: DeliveryPolicy) -> None:
        self.owner = owner
        self.channel = channel
        self.metrics = _ChannelMetrics(channel.name)
        self.limits = ChannelLimits(
            policy.channel_rate_per_s,
            policy.channel_burst,
            policy.recipient_rate_per_s,
            policy.recipient_burst,
        )
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.pending = 0  # guarded by the owner's lock
        self._schedule: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self.thread = threading.Thread(
            target=self._run, name=f"scorpius-alerts-{channel.name}", daemon=True
        )

    def _at(self, due: float, delivery: Delivery) -> None:
        heapq.heappush(self._schedule, (due, next(self._order), delivery))

    def _run(self) -> None:
        clock = self.owner.clock
        while True:
            timeout = None
            if self._schedule:
                timeout = max(0.0, self._schedule[0][0] - clock())
            try:
                item = self.inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    return
                self._at(clock(), item)
                try:
                    item = self.inbox.get_nowait()
                except queue.Empty:
                    item = None
            while self._schedule and self._schedule[0][0] <= clock():
                _, _, delivery = heapq.heappop(self._schedule)
                self._attempt(delivery)

    def _attempt(self, d: Delivery) -> None:
        owner = self.owner
        now = owner.clock()
        wait = self.limits.acquire(d.target.recipient, now)
        if wait > 0:
            self._at(now + wait, d)
            return
        d.attempts += 1
        try:
            self.channel.send(d.alert, d.target)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a library fault must not kill the lane: retry it like an outage
            error = DeliveryError(
                f"{self.channel.name} failed unexpectedly: {type(exc).__name__}: {exc}",
                retryable=True,
            )
        else:
            owner._sent(self, d)
            return
        if error.retryable and d.attempts < owner.policy.max_attempts:
            answered = owner.clock()  # Retry-After counts from the answer, not from our request
            delay = owner.backoff(d.attempts, error.retry_after)
            if error.retry_after is not None:
                # The server's wait holds for everything to this recipient, not just this alert.
                self.limits.pause(d.target.recipient, answered + error.retry_after)
            owner._retrying(d, error, delay)
            self._at(answered + delay, d)
            return
        if error.retryable:
            reason = (
                f"alert undeliverable: {self.channel.name} failed {d.attempts} attempts: {error}"
            )
        else:
            reason = f"alert rejected: {self.channel.name}: {error}"
        owner._give_up(self, d, reason)


class Dispatcher:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        router: Router,
        policy: DeliveryPolicy,
        *,
        dead_letter: Callable[[DeadLetter], None],
        delivery_log: Callable[[dict[str, Any]], None] | None = None,
        on_close: Callable[[], None] | None = None,
        redact: Redactor | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self._router = router
        self._dead_letter = dead_letter
        self._log = delivery_log
        # After the last outcome is recorded (the delivery log's Kafka publisher flushes there).
        self._on_close = on_close
        self._redact = redact or Redactor(())
        self._rng = rng or random.Random()
        self._wall_ms = wall_ms
        self._lanes = {name: _Lane(self, ch, policy) for name, ch in channels.items()}
        self._seen: dict[str, int] = {}  # flow thread only; insertion order is time order
        self._lock = threading.Condition()
        self._pending: dict[int, Delivery] = {}
        self._ids = itertools.count()
        self._closed = False
        # "alert" is the alert leaving the flow (flows/mempool.py); this is the channel taking it.
        self._latency = END_TO_END_SECONDS.labels("alert_delivered")

    def _metrics(self, channel: str) -> _ChannelMetrics:
        lane = self._lanes.get(channel)
        return lane.metrics if lane is not None else _ChannelMetrics(channel)

    # --- the flow's side ---------------------------------------------------------------------

    def start(self) -> None:
        for lane in self._lanes.values():
            lane.thread.start()

    def set_router(self, router: Router) -> None:
        """Routes from the next ``submit`` on (deliveries already queued keep their targets)."""
        self._router = router

    def submit(self, alert: Alert) -> None:
        """Routes and queues ``alert``; returns at once whatever the channels are doing."""
        now_ms = self._wall_ms()
        self._forget_before(now_ms - int(self.policy.dedup_window_s * 1000))
        for target in self._router.targets(alert):
            key = dedup_key(alert, target)
            if key in self._seen:
                self._metrics(target.channel).deduped.inc()
                self._record(Delivery(alert, target), "deduped")
                continue
            if self._enqueue(Delivery(alert, target)):
                self._seen[key] = now_ms
                if len(self._seen) > self.policy.dedup_max_keys:
                    # Forgotten before its window ends: a repeat of it would be sent again.
                    del self._seen[next(iter(self._seen))]
                    STATE_EVICTIONS.labels(STAGE, "dedup_max_keys").inc()

    def snapshot(self) -> DispatcherState:
        with self._lock:
            pending = [(d.alert, d.target, d.attempts) for d in self._pending.values()]
        return DispatcherState(seen=dict(self._seen), pending=pending)

    def restore(self, state: DispatcherState) -> None:
        """Before ``start``: remember what was sent and queue again what was not finished."""
        self._seen = dict(sorted(state.seen.items(), key=lambda kv: kv[1]))
        for alert, target, attempts in state.pending:
            if target.channel in self._lanes:
                self._enqueue(Delivery(alert, target, attempts))
            else:
                self._give_up(None, Delivery(alert, target, attempts), _unconfigured(target))

    def close(self, drain_timeout_s: float) -> None:
        """Waits up to ``drain_timeout_s`` for pending deliveries, then dead-letters the rest."""
        with self._lock:
            self._closed = True
            self._lock.wait_for(lambda: not self._pending, timeout=drain_timeout_s)
        for lane in self._lanes.values():
            lane.inbox.put(_STOP)
        for lane in self._lanes.values():
            # A lane stuck in a slow request is a daemon thread: it is not waited for.
            if lane.thread.ident is not None:
                lane.thread.join(timeout=0.5)
        with self._lock:
            left = list(self._pending.values())
        for d in left:
            lane = self._lanes[d.target.channel]
            self._give_up(
                lane,
                d,
                f"alert undelivered at shutdown: {d.target.channel} still had it after the "
                f"{drain_timeout_s:g}s drain ({d.attempts} attempts)",
            )
        for lane in self._lanes.values():
            closer = getattr(lane.channel, "close", None)
            if closer is not None:
                closer()
        if self._on_close is not None:
            self._on_close()

    def _forget_before(self, cutoff_ms: int) -> None:
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if at >= cutoff_ms:
                return
            del self._seen[key]

    def _enqueue(self, d: Delivery) -> bool:
        lane = self._lanes.get(d.target.channel)
        if lane is None:
            self._give_up(None, d, _unconfigured(d.target))
            return False
        with self._lock:
            closed = self._closed
            full = lane.pending >= self.policy.queue_size
            if not (closed or full):
                d.id = next(self._ids)
                self._pending[d.id] = d
                lane.pending += 1
                lane.metrics.depth.set(lane.pending)
        if closed:
            self._give_up(None, d, "alert undelivered at shutdown: the dispatcher is closed")
            return False
        if full:
            self._give_up(
                None,
                d,
                f"alert queue full: {d.target.channel} holds {self.policy.queue_size} "
                "unfinished deliveries",
            )
            return False
        lane.inbox.put(d)
        return True

    # --- the lanes' side ---------------------------------------------------------------------

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Exponential with jitter in the upper half (never sooner than half the step).

        The server's Retry-After is a floor: we never come back sooner than it asked.
        """
        policy = self.policy
        delay = backoff_delay(attempts - 1, policy.backoff_base_s, policy.backoff_max_s, self._rng)
        return max(delay, retry_after or 0.0)

    def _finish(self, lane: _Lane | None, d: Delivery) -> bool:
        """Marks ``d`` done; False when it was already finished (dead-lettered at shutdown)."""
        if d.id < 0:
            return True  # never queued: nobody else can finish it
        with self._lock:
            if self._pending.pop(d.id, None) is None:
                return False
            if lane is not None:
                lane.pending -= 1
                lane.metrics.depth.set(lane.pending)
            if not self._pending:
                self._lock.notify_all()
        return True

    def _sent(self, lane: _Lane, d: Delivery) -> None:
        if not self._finish(lane, d):
            self._record(d, "sent_after_shutdown")
            return
        lane.metrics.sent.inc()
        latency_s = max(0.0, (self._wall_ms() - d.alert.first_seen_ms) / 1000)
        self._latency.observe(latency_s)
        self._record(d, "sent", latency_s=round(latency_s, 3))

    def _retrying(self, d: Delivery, error: DeliveryError, delay: float) -> None:
        self._metrics(d.target.channel).retried.inc()
        self._record(d, "retry", error=self._redact(str(error)), retry_in_s=round(delay, 3))

    def _give_up(self, lane: _Lane | None, d: Delivery, reason: str) -> None:
        if not self._finish(lane, d):
            return
        reason = self._redact(reason)
        self._metrics(d.target.channel).failed.inc()
        DEAD_LETTERS.labels(STAGE, reason_class(reason)).inc()
        self._record(d, "dead_letter", error=reason)
        logger.warning("alert %s to %s dead-lettered: %s", d.alert.key, d.target.channel, reason)
        payload = {
            "channel": d.target.channel,
            "recipient": d.target.recipient,
            "route": d.target.route,
            "attempts": d.attempts,
            "alert": d.alert,
        }
        self._dead_letter(
            DeadLetter(
                stage=STAGE,
                reason=reason,
                payload=encode_json(payload).decode(),
                source=f"alerts:{d.target.channel}",
                chain_id=d.alert.chain_id,
                at_ms=self._wall_ms(),
            )
        )

    def _record(self, d: Delivery, outcome: str, **extra: Any) -> None:
        if self._log is None:
            return
        self._log(
            {
                "at_ms": self._wall_ms(),
                "outcome": outcome,
                "key": d.alert.key,
                "channel": d.target.channel,
                "recipient": d.target.recipient,
                "route": d.target.route,
                "attempts": d.attempts,
                **extra,
            }
        )


def _unconfigured(target: Target) -> str:
    return f"alert channel not configured: {target.channel} (route {target.route})"
