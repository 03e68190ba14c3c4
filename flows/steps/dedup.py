"""Each item once: source items across URLs and reconnects, alerts across sightings and replays."""

from __future__ import annotations

import itertools
import zlib

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import BranchOut

from flows.steps.checked import is_raw_item, split
from flows.steps.frozen_state import stateful_flat_map
from operators.dedup import SeenSet, item_hash, keep_first, shard_key
from operators.metrics import ALERT_REPEATS
from operators.records import Alert, DeadLetter, RawItem


@operator
def dedup_alerts(
    step_id: str, alerts: Stream[Alert], window_s: float, max_keys: int, shards: int = 16
) -> Stream[Alert]:
    """Each alert key once to every sink: a rule matching a tx's pending and mined sighting, or a
    detection a recovered epoch replays, gives one alert (``scorpius_alert_repeats`` counts the
    rest). Keys are remembered ``window_s`` of alert time, at most ``max_keys`` per shard."""

    def keyed(alert: Alert) -> tuple[str, Alert]:
        return f"{alert.chain_id}:{zlib.crc32(alert.key.encode()) % shards}", alert

    def step(seen: SeenSet | None, alert: Alert) -> tuple[SeenSet, list[Alert]]:
        seen = seen or SeenSet(int(window_s * 1000), max_keys)
        if seen.first_sighting((alert.chain_id, alert.key), alert.created_ms, "") is None:
            return seen, [alert]
        ALERT_REPEATS.labels(alert.origin).inc()
        return seen, []

    return op.key_rm("unkey", stateful_flat_map("first", op.map("shard", alerts, keyed), step))


@operator
def dedup_items(
    step_id: str,
    up: Stream[RawItem | DeadLetter],
    ttl_s: float = 900.0,
    max_per_shard: int = 20_000,
    shards: int = 64,
) -> Stream[RawItem | DeadLetter]:
    """Drop items already delivered by another URL or before a reconnect; dead letters pass."""
    kinds: BranchOut[RawItem, DeadLetter] = split("is_item", up, is_raw_item)
    items = kinds.trues

    # Arrival order, to break ties among items seen in the same millisecond: a gas war's bumps
    # often share one, and only their arrival order tells which replaced which.
    arrival = itertools.count()

    def keyed(item: RawItem) -> tuple[str, tuple[int, str | None, RawItem]]:
        ref = item_hash(item)
        key = shard_key(item.chain_id, ref, shards) if ref else f"{item.chain_id}:unkeyed"
        return key, (next(arrival), ref, item)

    def step(
        seen: SeenSet | None, value: tuple[int, str | None, RawItem]
    ) -> tuple[SeenSet, list[tuple[int, RawItem]]]:
        seen = seen or SeenSet(int(ttl_s * 1000), max_per_shard)
        order, ref, item = value
        keep = ref is None or keep_first(seen, item, ref)
        return seen, [(order, item)] if keep else []

    firsts = stateful_flat_map("first", op.map("shard", items, keyed), step)
    # A keyed step hands a batch back grouped by key; put it back in the order it was seen, so
    # that later steps meet a sender's txs as the source did (a searcher's frontrun before its
    # backrun, a gas war's bumps in the order the node accepted them).
    in_order = op.flat_map_batch(
        "in_order",
        op.key_rm("unkey", firsts),
        lambda batch: [item for _, item in sorted(batch, key=_arrival)],
    )
    return op.merge("with_letters", in_order, kinds.falses)


def _arrival(entry: tuple[int, RawItem]) -> tuple[int, int]:
    return entry[1].seen_ms, entry[0]
