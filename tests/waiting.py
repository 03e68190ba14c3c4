"""Polling until something the test started has happened: the one wait loop of the tests (and
of the benchmarks, through bench/testbed.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T], timeout: float = 10.0, what: str = "", interval: float = 0.05
) -> T:
    """``check()``'s first truthy value, asked every ``interval`` s; AssertionError naming
    ``what`` when none comes within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what or check}")
