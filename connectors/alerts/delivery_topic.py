"""Delivery outcomes to a Kafka topic, so that API pods, which cannot read the flow pods' delivery
logs, can answer each alert's delivery status (connectors/api/deliveries.py).

The dispatcher records an outcome on a lane's thread, and a lane must never wait on Kafka:
``write`` only queues the record (bounded). One thread takes what is queued in batches and
writes them through the Kafka sink's partition (connectors/kafka.py: the same idempotent producer
settings, message checks and ``scorpius_sink_writes``/``_errors{sink="kafka:<topic>"}`` series as
every topic the flow publishes). A record that cannot be published (the queue is full because
Kafka is slow or down, or the broker refused it) is counted on ``scorpius_sink_errors`` and
logged, never raised: delivery goes on, and the delivery log still has every outcome.

Messages: value = the outcome record as JSON (secrets already redacted by the dispatcher), key =
the alert key, so one alert's outcomes stay in order on one partition.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from bytewax.connectors.kafka import KafkaSinkMessage

from connectors.background import BackgroundThread
from connectors.kafka import DeliveryFailed, KafkaRecordSink, SinkMessage
from operators.metrics import SINK_ERRORS
from operators.records import encode_json

log = logging.getLogger(__name__)

BATCH = 500
# An outage loses many outcomes: one warning this often says how many.
LOG_EVERY_S = 10.0


def outcome_message(record: Mapping[str, Any]) -> SinkMessage:
    return KafkaSinkMessage(key=str(record.get("key", "")).encode(), value=encode_json(record))


class DeliveryTopic(BackgroundThread):
    """``write`` (any thread, never blocks) queues an outcome; the thread publishes it."""

    def __init__(
        self,
        sink: KafkaRecordSink,
        topic: str,
        queue_size: int = 10_000,
        close_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(f"scorpius-deliveries-{topic}", join_timeout_s=close_timeout_s)
        self._sink = sink
        self._topic = topic
        self._queue: queue.Queue[Mapping[str, Any]] = queue.Queue(maxsize=queue_size)
        self._errors = SINK_ERRORS.labels(f"kafka:{topic}")
        self._log_lock = threading.Lock()
        self._logged_at = float("-inf")
        self._unlogged = 0

    def write(self, record: Mapping[str, Any]) -> None:
        if self._stopping.is_set():
            self._lost(1, "the publisher is closed (an outcome after the flow's shutdown)")
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._lost(1, f"{self._queue.maxsize} outcomes wait already (Kafka slow or down)")

    def _lost(self, n: int, why: str) -> None:
        self._errors.inc(n)
        with self._log_lock:
            now = time.monotonic()
            self._unlogged += n
            if now - self._logged_at < LOG_EVERY_S:
                return
            n, self._unlogged, self._logged_at = self._unlogged, 0, now
        log.warning("%d alert delivery outcomes not published to %s: %s", n, self._topic, why)

    def _take(self) -> list[Mapping[str, Any]]:
        try:
            batch = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        try:
            partition = self._sink.build(self._topic, 0, 1)
        except Exception as exc:  # a producer that cannot be made must not stop delivery
            log.error("alert delivery outcomes will not reach %s: %s", self._topic, exc)
            self._stopping.set()
            self._lost(self._queue.qsize(), str(exc))
            return
        try:
            while not (self._stopping.is_set() and self._queue.empty()):
                batch = self._take()
                if not batch:
                    continue
                try:
                    # Waits for the broker's acknowledgement: on this thread, never a lane's.
                    partition.write_batch([outcome_message(r) for r in batch])
                except DeliveryFailed as exc:  # the partition counted the messages it lost
                    log.warning("alert delivery outcomes not published: %s", exc)
                except Exception as exc:
                    self._lost(len(batch), f"{type(exc).__name__}: {exc}")
        finally:
            partition.close()
