"""The wall clock in the unit every record uses: milliseconds since the Unix epoch."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Now, in whole milliseconds since the epoch (UTC)."""
    return time.time_ns() // 1_000_000
