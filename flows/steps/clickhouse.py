"""ClickHouse as a step: records of any table, keyed to their partition (connectors/clickhouse)."""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from connectors.archive_tables import routing_key
from connectors.clickhouse.sink import ClickHouseSink


@operator
def write_clickhouse(step_id: str, up: Stream[Any], sink: ClickHouseSink) -> None:
    """Write records of any ClickHouse table (keyed by ``routing_key``)."""
    op.output("write", op.key_on("key", up, routing_key), sink)
