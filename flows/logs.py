"""What a run prints besides its outputs: Scorpius's own log lines, one per event, on stderr.

Sources log each connection change (connected, reconnecting and why, wrong chain, backfilled N
blocks; URLs through ``connectors.rpc.redact``) and the summary sink a periodic status line, at
INFO. Libraries stay at WARNING, so a run's stderr is Scorpius talking, not its dependencies.
"""

from __future__ import annotations

import logging
import sys

OWN_LOGGERS = ("connectors", "flows", "operators", "scorpius")


def configure_logging(level: str = "INFO") -> None:
    """INFO lines from Scorpius's modules on stderr, unless the embedding program set up logging."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s scorpius %(levelname)s %(message)s", "%H:%M:%S")
    )
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())
