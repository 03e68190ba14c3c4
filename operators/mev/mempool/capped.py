"""The mempool detectors' state caps: a table beyond its cap forgets its oldest entries first
(tables are dicts, so insertion order is arrival order), and scorpius_state_evictions counts them."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from itertools import islice
from typing import Any

from operators.metrics import STATE_EVICTIONS


def evict_oldest(
    table: MutableMapping[Any, Any],
    cap: int,
    stage: str,
    limit: str,
    forgotten: Callable[[Any], None] | None = None,
) -> None:
    """Drops ``table``'s oldest entries beyond ``cap`` (each handed to ``forgotten``), counted
    as (``stage``, ``limit``)."""
    over = len(table) - cap
    if over <= 0:
        return
    for key in list(islice(table, over)):
        gone = table.pop(key)
        if forgotten is not None:
            forgotten(gone)
    STATE_EVICTIONS.labels(stage, limit).inc(over)
