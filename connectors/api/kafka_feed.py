"""The Kafka feed: one consumer per API process reading the topics the flow publishes.

Every API process must see every message (each serves its own clients), so the consumer uses a
group of its own (never committed) and starts at the newest offsets: API pods are stateless and
scale independently of the flow. Records are JSON from ``records.encode_json``; an unreadable one
is counted on ``scorpius_api_feed_errors_total``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError

from connectors.api import metrics
from connectors.api.feed import Publish, decode_record
from connectors.background import BackgroundThread

log = logging.getLogger(__name__)


class KafkaFeed(BackgroundThread):
    name = "kafka"

    def __init__(
        self,
        client_settings: Mapping[str, Any],
        topics: Mapping[str, str],
        publish: Publish,
        on_state: Callable[[bool], None] | None = None,
        start_at: str = "latest",
    ) -> None:
        """``topics``: Kafka topic → stream (alerts, transactions, detections, dead_letters)."""
        super().__init__("api-kafka-feed")
        self._settings = {
            **client_settings,
            "group.id": f"scorpius-api-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "auto.offset.reset": start_at,
            "enable.partition.eof": False,
        }
        self._topics = dict(topics)
        self._publish = publish
        self._on_state = on_state
        self.assigned = threading.Event()

    def _state(self, ok: bool) -> None:
        if self._on_state:
            self._on_state(ok)

    def _run(self) -> None:
        consumer = Consumer(self._settings)

        def on_assign(c: Consumer, partitions: list[Any]) -> None:
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
                for stream, records in batches.items():
                    self._publish(stream, records)
        finally:
            consumer.close()
