"""The one backoff (``backoff_delay``), and retrying a sink's write until it succeeds with it.

Sinks never drop data: while the store is down the write blocks, which stops the worker from
taking more input (back-pressure), and the buffered records wait in memory.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from operators.metrics import SINK_ERRORS

T = TypeVar("T")

log = logging.getLogger(__name__)


def backoff_delay(
    attempt: int, initial: float, cap: float, rng: random.Random | None = None, factor: float = 2.0
) -> float:
    """Seconds before retry ``attempt`` (0-based): ``initial * factor**attempt``, at most ``cap``.

    With ``rng`` the delay is jittered in the upper half of that step (never sooner than half of
    it), so clients that failed together do not come back in lockstep.
    """
    step = min(cap, initial * factor**attempt)
    return step if rng is None else step * (0.5 + 0.5 * rng.random())


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.2
    max_s: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return backoff_delay(attempt - 1, self.initial_s, self.max_s, rng, self.factor)


def retry_until_done(
    action: Callable[[], T],
    *,
    sink: str,
    backoff: Backoff = Backoff(),
    retryable: Callable[[Exception], bool] = lambda exc: True,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``action()``'s result, retrying errors that are ``retryable`` for as long as it takes."""
    attempt = 0
    while True:
        try:
            return action()
        except Exception as exc:
            if not retryable(exc):
                raise
            attempt += 1
            SINK_ERRORS.labels(sink=sink).inc()
            wait = backoff.delay(attempt)
            log.warning(
                "%s: write failed (attempt %d, retry in %.1fs): %s", sink, attempt, wait, exc
            )
            sleep(wait)
