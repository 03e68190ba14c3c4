"""The Kafka feed: one consumer per API process reading the topics the flow publishes.

Every API process must see every message (each serves its own clients), so the consumer uses a
group of its own (never committed) and starts at the newest offsets: API pods are stateless and
scale independently of the flow. Records are JSON from ``records.encode_json``; an unreadable one
is counted on ``scorpius_api_feed_errors_total``.

The alert delivery outcomes topic (``delivery_topic``) is not a stream: its records fill
``delivery_index``, which ``GET /api/v1/alerts/{key}/deliveries`` answers from. It is read from
the start of each partition (the index is bounded by its key cap), so a new or restarted pod
knows the status of alerts delivered before it started, as far as the topic's retention reaches.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException

from connectors.api import metrics
from connectors.api.deliveries import DeliveryIndex
from connectors.api.feed import Publish, decode_record
from connectors.background import BackgroundThread

log = logging.getLogger(__name__)

# The delivery outcomes' place among the batches (not a hub stream).
DELIVERIES = "_deliveries"


class KafkaFeed(BackgroundThread):
    name = "kafka"

    def __init__(
        self,
        client_settings: Mapping[str, Any],
        topics: Mapping[str, str],
        publish: Publish,
        on_state: Callable[[bool], None] | None = None,
        start_at: str = "latest",
        delivery_topic: str = "",
        delivery_index: DeliveryIndex | None = None,
    ) -> None:
        """``topics``: Kafka topic → stream (alerts, transactions, detections, dead_letters);
        ``delivery_topic``: the alert delivery outcomes topic, read into ``delivery_index`` (not
        read without one)."""
        super().__init__("api-kafka-feed")
        self._settings = {
            **client_settings,
            "group.id": f"scorpius-api-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "auto.offset.reset": start_at,
            "enable.partition.eof": False,
        }
        self.delivery_index = delivery_index
        self._delivery_topic = delivery_topic if delivery_index is not None else ""
        self._topics = dict(topics)
        if self._delivery_topic:
            self._topics[self._delivery_topic] = DELIVERIES
        self._publish = publish
        self._on_state = on_state
        self._start_at = start_at
        self.assigned = threading.Event()

    def _state(self, ok: bool) -> None:
        if self._on_state:
            self._on_state(ok)

    def _run(self) -> None:
        consumer = Consumer(self._settings)

        def on_assign(c: Consumer, partitions: list[Any]) -> None:
            for partition in partitions:
                if partition.topic == self._delivery_topic:
                    partition.offset = OFFSET_BEGINNING
                elif self._start_at == "latest":
                    # "latest" is otherwise looked up after the assignment, so a message
                    # produced in between (while the feed already says it is up) is skipped.
                    try:
                        _low, high = c.get_watermark_offsets(partition, timeout=10, cached=False)
                    except KafkaException as exc:
                        log.warning("kafka feed: no end offset for %s: %s", partition.topic, exc)
                    else:
                        partition.offset = high
            c.assign(partitions)
            self.assigned.set()
            self._state(True)

        consumer.subscribe(list(self._topics), on_assign=on_assign)
        try:
            while not self._stopping.is_set():
                messages = consumer.consume(num_messages=1000, timeout=0.05)
                batches: dict[str, list[dict[str, Any]]] = {}
                for msg in messages:
                    error = msg.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            log.warning("kafka feed: %s", error.str())
                            self._state(not error.fatal())
                        continue
                    stream = self._topics.get(msg.topic() or "")
                    if stream is None:
                        metrics.FEED_ERRORS.labels("kafka").inc()
                        continue
                    record = decode_record(msg.value() or b"", "kafka")
                    if record is not None:
                        batches.setdefault(stream, []).append(record)
                outcomes = batches.pop(DELIVERIES, None)
                if outcomes and self.delivery_index is not None:
                    skipped = self.delivery_index.add(outcomes)  # records with no alert key
                    if skipped:
                        metrics.FEED_ERRORS.labels("kafka").inc(skipped)
                for stream, records in batches.items():
                    self._publish(stream, records)
        finally:
            consumer.close()
