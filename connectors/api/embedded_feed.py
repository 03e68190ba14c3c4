"""The embedded feed: tail the flow's JSON-lines outputs in its output folder.

``scorpius serve --flow`` runs the flow in a child process writing ``alerts.jsonl``,
``detections.jsonl``, ``dead_letters.jsonl`` and ``tx_enriched.jsonl``; this thread reads what is
appended (whole lines only) and hands batches to the hub. A file that shrinks was truncated (a new
run, or a resume from recovery): reading starts over from its beginning. Unreadable lines are
counted on ``scorpius_api_feed_errors_total``, never passed on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.api.deliveries import DeliveryIndex
from connectors.api.feed import Publish, decode_record
from connectors.background import BackgroundThread

log = logging.getLogger(__name__)

FILES = {
    "alerts.jsonl": "alerts",
    "detections.jsonl": "detections",
    "tx_enriched.jsonl": "transactions",
    "dead_letters.jsonl": "dead_letters",
}
# On start, only the tail of an existing file is read (it fills the resume history).
_START_TAIL_BYTES = 4 << 20
_MAX_READ = 8 << 20


class _Tail:
    def __init__(self, path: Path, stream: str) -> None:
        self.path = path
        self.stream = stream
        self.offset: int | None = None
        self.partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if self.offset is None:
            self.offset = max(0, size - _START_TAIL_BYTES)
            self.partial = b""
            if self.offset:
                self._skip_to_line_start()
        if size < self.offset:
            self.offset, self.partial = 0, b""
        if size == self.offset:
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read(_MAX_READ)
        self.offset += len(chunk)
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()
        records: list[dict[str, Any]] = []
        for line in lines:
            if not line.strip():
                continue
            record = decode_record(line, "embedded")
            if record is not None:
                records.append(record)
        return records

    def _skip_to_line_start(self) -> None:
        assert self.offset is not None
        with self.path.open("rb") as f:
            f.seek(self.offset)
            rest = f.readline()
        self.offset += len(rest)


class EmbeddedFeed(BackgroundThread):
    """A thread polling the output folder every ``poll_s``."""

    name = "embedded"
    # Embedded: the API reads the flow's delivery log itself (settings.delivery_log).
    delivery_index: DeliveryIndex | None = None

    def __init__(
        self,
        out_dir: str | Path,
        publish: Publish,
        poll_s: float = 0.01,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__("api-embedded-feed", join_timeout_s=5)
        self._tails = [_Tail(Path(out_dir) / name, stream) for name, stream in FILES.items()]
        self._publish = publish
        self._poll_s = poll_s
        self._on_state = on_state

    def _run(self) -> None:
        if self._on_state:
            self._on_state(True)
        while not self._stopping.is_set():
            moved = False
            for tail in self._tails:
                try:
                    records = tail.read()
                except OSError as exc:
                    log.warning("embedded feed: cannot read %s: %s", tail.path, exc.strerror)
                    continue
                if records:
                    moved = True
                    self._publish(tail.stream, records)
            if not moved:
                self._stopping.wait(self._poll_s)
