"""Each alert's delivery status per channel and recipient: delivered, retrying, dead-lettered
(with the reason), or deduplicated (the same alert was already handed to that target).

The flow writes one outcome record per delivery event (connectors/alerts/dispatcher.py): to its
delivery log, a JSON-lines file, and, when it publishes to Kafka, to the ``alert_deliveries``
topic. ``fold`` turns a sequence of one alert's outcomes into its statuses; both places the API
answers from use it, so they give the same JSON for the same outcomes:

- ``deliveries`` (embedded: the API shares the flow's files) reads the log from its end backwards
  only as far as ``max_bytes``: a request costs a bounded read however long the flow has run, and
  older alerts are answered "not found".
- ``DeliveryIndex`` (Kafka: API pods cannot read the flow pods' files) is filled by the API's
  Kafka feed from the topic and holds the statuses of the newest ``max_keys`` alerts.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATUS = {
    "sent": "delivered",
    "sent_after_shutdown": "delivered",
    "dead_letter": "dead_lettered",
    "retry": "retrying",
    "deduped": "deduplicated",
}

# (channel, recipient)
Target = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Status:
    """The latest status of one alert at one target (compact: the Kafka index holds many)."""

    channel: str
    recipient: str
    route: str | None
    status: str
    attempts: int
    reason: str | None
    at_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "recipient": self.recipient,
            "route": self.route,
            "status": self.status,
            "attempts": self.attempts,
            "reason": self.reason,
            "at": datetime.fromtimestamp(self.at_ms / 1000, UTC).isoformat(),
        }


def _name(value: Any) -> str:
    # Channels, recipients, routes and reasons repeat across alerts: one copy of each in memory.
    return sys.intern(str(value))


def fold(found: dict[Target, Status], record: Mapping[str, Any]) -> None:
    """Folds one outcome record of an alert into ``found`` (its statuses by target, in the order
    they were first recorded): a later outcome replaces an earlier one, except that a dedup
    leaves the earlier hand-over's status standing. Records of unknown outcomes are ignored."""
    status = STATUS.get(str(record.get("outcome", "")))
    if status is None:
        return
    target = (_name(record.get("channel")), _name(record.get("recipient")))
    if status == "deduplicated" and target in found:
        return
    route = record.get("route")
    attempts = record.get("attempts", 0)
    at_ms = record.get("at_ms", 0)
    reason = record.get("error") if status in ("dead_lettered", "retrying") else None
    found[target] = Status(
        channel=target[0],
        recipient=target[1],
        route=None if route is None else _name(route),
        status=status,
        attempts=attempts if isinstance(attempts, int) else 0,
        reason=None if reason is None else _name(reason),
        at_ms=int(at_ms) if isinstance(at_ms, int | float) else 0,
    )


def statuses(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One alert's outcome records, oldest first, as the API answers them."""
    found: dict[Target, Status] = {}
    for record in records:
        fold(found, record)
    return [s.as_json() for s in found.values()]


def _tail(path: Path, max_bytes: int) -> list[bytes]:
    with path.open("rb") as f:
        size = f.seek(0, 2)
        start = max(0, size - max_bytes)
        f.seek(start)
        if start:
            f.readline()  # the first line read is cut
        return f.readlines()


def _records_of(lines: Iterable[bytes], key: str) -> Iterable[dict[str, Any]]:
    needle = json.dumps(key).encode()
    for line in lines:
        if needle not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line still being written
        if isinstance(record, dict) and record.get("key") == key:
            yield record


def deliveries(path: str | Path, key: str, max_bytes: int = 32 << 20) -> list[dict[str, Any]]:
    """The latest status of each (channel, recipient) the alert ``key`` went to, in the order
    they were first recorded; [] when the log holds nothing about it."""
    path = Path(path)
    if not path.is_file():
        return []
    return statuses(_records_of(_tail(path, max_bytes), key))


class DeliveryIndex:
    """Alert key → its statuses by target, for the newest ``max_keys`` alerts: when a new key
    would pass the cap, the key first recorded longest ago is forgotten (its later lookups are
    "not found", as for an alert older than the delivery log's window). Outcome records are added
    in the order the topic holds them (one alert's are on one partition, keyed by alert key), so
    the latest outcome wins. Thread-safe: the feed's thread adds, request threads look up."""

    def __init__(self, max_keys: int) -> None:
        if max_keys < 1:
            raise ValueError("the delivery index must hold at least one alert key")
        self.max_keys = max_keys
        self._alerts: dict[str, dict[Target, Status]] = {}  # insertion order is age
        self._lock = threading.Lock()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._alerts)

    def add(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Folds outcome records in; returns how many were not outcome records of an alert
        (no string ``key``), which are skipped."""
        skipped = 0
        with self._lock:
            for record in records:
                key = record.get("key")
                if not isinstance(key, str):
                    skipped += 1
                    continue
                found = self._alerts.get(key)
                if found is None:
                    if len(self._alerts) >= self.max_keys:
                        del self._alerts[next(iter(self._alerts))]
                        self.evicted += 1
                    found = self._alerts[key] = {}
                fold(found, record)
        return skipped

    def lookup(self, key: str) -> list[dict[str, Any]]:
        """What ``deliveries`` answers for ``key``: [] when the index holds nothing about it."""
        with self._lock:
            found = list(self._alerts.get(key, {}).values())
        return [s.as_json() for s in found]
