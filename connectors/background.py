"""A named daemon thread that runs until asked to stop: the API's feeds and the rules follower.

Subclasses write ``_run``, which loops until ``self._stopping`` is set (and waits on it rather
than sleeping, so a stop is prompt).
"""

from __future__ import annotations

import threading


class BackgroundThread:
    def __init__(self, name: str, join_timeout_s: float = 10.0) -> None:
        self._stopping = threading.Event()
        self._join_timeout_s = join_timeout_s
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=self._join_timeout_s)

    def _run(self) -> None:
        raise NotImplementedError
