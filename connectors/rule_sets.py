"""Where published rule sets (and the alert routes document) go so every worker runs them
without a restart.

- ``FolderSink``: the rules folder that each worker's engine re-reads (embedded default), and the
  alert routes file that the flow's alert sink re-reads.
- ``KafkaRuleSink``: a compacted topic keyed by rule name (a tombstone removes one); every worker
  runs a ``RuleTopicFollower`` that replays the topic from its beginning into its own local rules
  folder, which its engine hot-reloads like any other. The routes document travels on the same
  topic under ``ROUTES_KEY`` (no rule name can take it) and the follower writes it to its routes
  file.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.background import BackgroundThread

log = logging.getLogger(__name__)

SUFFIX = {"yaml": ".yaml", "wat": ".wat"}
# The alert routes document's key on the rules topic: a rule name starts with a letter or digit.
ROUTES_KEY = "_alert_routes"
ROUTES_FORMAT = "routes"


def replace_file(path: Path, text: str) -> None:
    """Write then rename: a reader polling ``path`` never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.partial"
    partial.write_text(text)
    partial.replace(path)


class FolderSink:
    def __init__(self, directory: str | Path, routes_path: str | Path | None = None) -> None:
        self.directory = Path(directory)
        self.routes_path = Path(routes_path) if routes_path else None

    def put(self, name: str, fmt: str, source: str) -> None:
        for other in SUFFIX.values():
            if other != SUFFIX[fmt]:
                (self.directory / f"{name}{other}").unlink(missing_ok=True)
        replace_file(self.directory / f"{name}{SUFFIX[fmt]}", source)

    def put_routes(self, source: str) -> None:
        if self.routes_path is None:
            raise RuntimeError("no alert routes file to write to")
        replace_file(self.routes_path, source)

    def remove(self, name: str) -> None:
        for suffix in SUFFIX.values():
            (self.directory / f"{name}{suffix}").unlink(missing_ok=True)

    def files(self) -> dict[str, Path]:
        if not self.directory.is_dir():
            return {}
        return {
            p.stem: p
            for p in sorted(self.directory.iterdir())
            if p.suffix in (".yaml", ".yml", ".wat") and p.is_file()
        }


class KafkaRuleSink:
    def __init__(self, client_settings: Mapping[str, Any], topic: str) -> None:
        self.topic = topic
        self._settings = {**client_settings, "enable.idempotence": True}

    def _send(self, name: str, value: bytes | None) -> None:
        from confluent_kafka import Producer

        # Rule sets change rarely: a producer per publish, gone afterwards, keeps no connection
        # (and no reconnect attempts) open in every API pod for the rest of its life.
        producer = Producer(self._settings)
        failures: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        producer.produce(self.topic, key=name.encode(), value=value, on_delivery=delivered)
        remaining = producer.flush(15)
        if remaining or failures:
            raise RuntimeError(
                f"rule set {name!r} not acknowledged by Kafka: {failures or 'timeout'}"
            )

    def put(self, name: str, fmt: str, source: str) -> None:
        self._send(name, json.dumps({"name": name, "format": fmt, "source": source}).encode())

    def remove(self, name: str) -> None:
        self._send(name, None)

    def put_routes(self, source: str) -> None:
        self._send(ROUTES_KEY, json.dumps({"format": ROUTES_FORMAT, "source": source}).encode())


class RuleTopicFollower(BackgroundThread):
    """A thread mirroring the rules topic into ``directory`` (from the topic's beginning), and its
    alert routes document into ``routes_path`` when one is given."""

    def __init__(
        self,
        client_settings: Mapping[str, Any],
        topic: str,
        directory: str | Path,
        routes_path: str | Path | None = None,
    ) -> None:
        super().__init__("rules-follower")
        self._settings = {
            **client_settings,
            "group.id": f"scorpius-rules-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
        self.topic = topic
        self.folder = FolderSink(directory, routes_path)

    def _apply_routes(self, value: bytes | None) -> None:
        if self.folder.routes_path is None:
            return  # a worker without an alert sink has no use for routes
        try:
            if value is None:  # a tombstone: back to the default route
                self.folder.routes_path.unlink(missing_ok=True)
                return
            doc = json.loads(value)
            if doc.get("format") != ROUTES_FORMAT or not isinstance(doc.get("source"), str):
                raise ValueError("not a routes document")
            self.folder.put_routes(doc["source"])
        except (ValueError, AttributeError) as exc:
            log.warning("rules topic: unreadable alert routes skipped: %s", exc)
        except OSError as exc:
            # A read-only file (a mounted ConfigMap) keeps the routes it has.
            log.warning(
                "rules topic: alert routes not written to %s: %s", self.folder.routes_path, exc
            )

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        name = (key or b"").decode("utf-8", "replace")
        if name == ROUTES_KEY:
            self._apply_routes(value)
            return
        if not name or "/" in name or name.startswith("."):
            log.warning("rules topic: ignoring a message with key %r", name[:80])
            return
        if value is None:
            self.folder.remove(name)
            return
        try:
            doc = json.loads(value)
            fmt, source = doc["format"], doc["source"]
            if fmt not in SUFFIX or not isinstance(source, str):
                raise ValueError(fmt)
        except (ValueError, KeyError, TypeError):
            log.warning("rules topic: unreadable rule set %r skipped", name)
            return
        self.folder.put(name, fmt, source)

    def _run(self) -> None:
        from confluent_kafka import Consumer

        consumer = Consumer(self._settings)
        consumer.subscribe([self.topic])
        try:
            while not self._stopping.is_set():
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error() is not None:
                    continue  # librdkafka reconnects by itself; unknown topic until first publish
                self.apply(msg.key(), msg.value())
        finally:
            consumer.close()
