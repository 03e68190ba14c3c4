"""Graceful stop on SIGINT / SIGTERM: the sources end, the flow drains, the exit code is 0.

Bytewax's run loop checks Python's signals between activations and, under the default SIGINT
handler, turns Ctrl-C into a ``KeyboardInterrupt`` that panics the Rust worker (exit 1, nothing
flushed); SIGTERM, which Kubernetes sends on every rollout, kills the process outright. Handlers
that only set an event let the loop go on: every source partition sees the event and ends
(connectors/stoppable.py, the RPC source's own ``stop``), windows close, sinks flush and close,
and the summary is written. A second signal means "now": the process exits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

log = logging.getLogger("scorpius")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install_stop_handlers(stop: threading.Event | None = None) -> threading.Event:
    """SIGINT / SIGTERM set ``stop`` (a new event when None), a second one exits at once.

    Outside the main thread (a flow built by a test's thread) no handler can be installed; the
    event is returned all the same, for the caller to set."""
    event = stop if stop is not None else threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if event.is_set():
            print(f"scorpius: {name} again, exiting now", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        print(
            f"scorpius: {name} received, stopping: sources close, sinks flush "
            "(send it again to exit at once)",
            file=sys.stderr,
            flush=True,
        )
        event.set()

    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, handle)
    else:
        log.debug("not the main thread: no stop handlers installed")
    return event
