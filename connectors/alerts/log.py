"""An append-only JSON-lines file that several threads may write to (delivery log, dead letters)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from operators.records import encode_json


class JsonlLog:
    """Opens, appends and closes per record: alerts are few, and a write after the flow has
    finished (a lane thread whose slow request just returned) must still work."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, record: Any) -> None:
        line = encode_json(record) + b"\n"
        with self._lock, self.path.open("ab") as out:
            out.write(line)
