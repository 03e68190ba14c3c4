"""The Delta Lake archive as a step: one table's records, keyed to their partition
(connectors/delta_archive.py)."""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from connectors.archive_tables import routing_key
from connectors.delta_archive import DeltaArchiveSink


@operator
def archive(step_id: str, up: Stream[Any], sink: DeltaArchiveSink) -> None:
    """Write records of the sink's table to the archive (keyed by ``routing_key``)."""
    keyed = op.key_on("key", up, routing_key)
    op.output("write", keyed, sink)
