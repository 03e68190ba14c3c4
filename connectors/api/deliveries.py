"""Each alert's delivery status per channel and recipient, from the flow's delivery log (one JSON
line per outcome, written by connectors/alerts/dispatcher.py): delivered, retrying,
dead-lettered (with the reason), or deduplicated (the same alert was already handed to that
target).

The log is read from its end backwards only as far as ``max_bytes``: a request costs a bounded
read however long the flow has run, and older alerts are answered "not found".
"""

from __future__ import annotations

import json
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


def _tail(path: Path, max_bytes: int) -> list[bytes]:
    with path.open("rb") as f:
        size = f.seek(0, 2)
        start = max(0, size - max_bytes)
        f.seek(start)
        if start:
            f.readline()  # the first line read is cut
        return f.readlines()


def deliveries(path: str | Path, key: str, max_bytes: int = 32 << 20) -> list[dict[str, Any]]:
    """The latest status of each (channel, recipient) the alert ``key`` went to, in the order
    they were first recorded; [] when the log holds nothing about it."""
    path = Path(path)
    if not path.is_file():
        return []
    needle = json.dumps(key).encode()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for line in _tail(path, max_bytes):
        if needle not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line still being written
        if not isinstance(record, dict) or record.get("key") != key:
            continue
        status = STATUS.get(record.get("outcome", ""))
        if status is None:
            continue
        target = (str(record.get("channel")), str(record.get("recipient")))
        if status == "deduplicated" and target in found:
            continue  # the earlier hand-over's status stands
        found[target] = {
            "channel": target[0],
            "recipient": target[1],
            "route": record.get("route"),
            "status": status,
            "attempts": record.get("attempts", 0),
            "reason": record.get("error") if status in ("dead_lettered", "retrying") else None,
            "at": datetime.fromtimestamp(record.get("at_ms", 0) / 1000, UTC).isoformat(),
        }
    return list(found.values())
