"""What the API's feeds share: how they hand records to the hub, and how they read one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from connectors.api import metrics

# (stream, records) from a feed's thread: Hub.publish_threadsafe.
Publish = Callable[[str, list[dict[str, Any]]], None]

_decoder = msgspec.json.Decoder()


def decode_record(data: bytes, feed: str) -> dict[str, Any] | None:
    """One JSON object as the flow wrote it (ints stay exact, however large); anything else is
    counted on ``scorpius_api_feed_errors_total`` and gives None."""
    try:
        record = _decoder.decode(data)
    except msgspec.DecodeError:
        record = None
    if isinstance(record, dict):
        return record
    metrics.FEED_ERRORS.labels(feed).inc()
    return None
