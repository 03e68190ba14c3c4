"""The alert routes file, re-read while the flow runs: routes published through the API (written
here by the API, or by each worker's follower of the rules topic) or edited by hand take effect
without a restart.

The alert sink asks ``changed()`` before each batch: one clock read, and one ``stat`` at most
every ``interval_s``; the file is parsed again only when its size or mtime moved. A new routes
table is swapped in whole, so no alert sees half of one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from operators.alert_router import Route, Router, RoutesError, load_routes
from operators.metrics import ALERT_ROUTES_LOADS

log = logging.getLogger(__name__)

Stamp = tuple[int, int] | None


class RoutesFile:
    """``to_router`` makes the table from the file's routes (None: there is no file)."""

    def __init__(
        self,
        path: str | Path,
        to_router: Callable[[tuple[Route, ...] | None], Router],
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._to_router = to_router
        self._interval_s = interval_s
        self._clock = clock
        self._stamp: Stamp = None
        self._next_look = 0.0

    def _stat(self) -> Stamp:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def load_routes(self) -> tuple[Route, ...] | None:
        """The file's routes as it is now, None without a file (at start: a bad file raises
        ``RoutesError``); later looks compare against this one."""
        self._stamp = self._stat()
        self._next_look = self._clock() + self._interval_s
        return load_routes(self.path) if self._stamp is not None else None

    def changed(self) -> Router | None:
        """A new table when the file changed since the last look, else None. A file that does not
        parse keeps the table in use (logged and counted), until it changes again."""
        now = self._clock()
        if now < self._next_look:
            return None
        self._next_look = now + self._interval_s
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            router = self._to_router(load_routes(self.path) if stamp is not None else None)
        except RoutesError as exc:
            ALERT_ROUTES_LOADS.labels("refused").inc()
            log.warning("alert routes not reloaded, the previous ones stay: %s", exc)
            return None
        ALERT_ROUTES_LOADS.labels("loaded").inc()
        log.info(
            "alert routes reloaded from %s: %d routes",
            self.path if stamp is not None else "defaults (no routes file)",
            len(router.routes),
        )
        return router
