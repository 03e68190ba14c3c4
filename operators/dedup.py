"""Dedup of source items across URLs and reconnects: the first sighting wins and is remembered.

Several URLs of one chain deliver the same pending txs and blocks, and a reconnect may deliver a
block again. The source cannot dedup across its partitions (they run on different workers), so
this is a keyed step after it (flows/steps/dedup.py): items are keyed by a shard of (chain, hash), each shard holds a
bounded, time-expiring ``SeenSet``. The item that passes is the first to reach the step, with its
own ``seen_ms`` and ``source``; later copies only feed the sighting-delay histogram (how far
behind the first URL another one was), which is how users compare their node providers.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

from operators.metrics import SIGHTING_DELAY_SECONDS, SOURCE_DUPLICATES, STATE_EVICTIONS
from operators.records import RawItem
from operators.rpc_json import decode_bundle_hash, decode_hash_ref

Key = tuple[int, str]
Sighting = tuple[int, str]  # (first seen ms, source that saw it first)


class SeenSet:
    """(chain, hash) → first sighting, kept ``ttl_ms`` of item time and at most ``max_entries``.

    Time is the items' own ``seen_ms`` (the newest seen so far), so expiry is deterministic and
    replays behave like live runs. Entries leave oldest-first when either bound is reached.
    """

    def __init__(self, ttl_ms: int, max_entries: int) -> None:
        self.ttl_ms = ttl_ms
        self.max_entries = max_entries
        self._first: OrderedDict[Key, Sighting] = OrderedDict()
        self._clock = 0

    def __len__(self) -> int:
        return len(self._first)

    def first_sighting(self, key: Key, seen_ms: int, source: str) -> Sighting | None:
        """None when ``key`` is new (it is remembered now), else its first sighting."""
        self._clock = max(self._clock, seen_ms)
        horizon = self._clock - self.ttl_ms
        while self._first:
            oldest = next(iter(self._first.values()))
            if oldest[0] >= horizon:
                break
            self._first.popitem(last=False)
        first = self._first.get(key)
        if first is not None:
            return first
        self._first[key] = (seen_ms, source)
        if len(self._first) > self.max_entries:
            # Forgotten before its TTL: a late copy of it would pass as new (counted here).
            self._first.popitem(last=False)
            STATE_EVICTIONS.labels("dedup", "max_per_shard").inc()
        return None


def item_hash(item: RawItem) -> str | None:
    """The tx or block hash of an item: the source's ``hash`` or, failing that, from the payload.

    None for a payload without one; such an item passes dedup and the normalizer reports it.
    """
    if item.hash:
        return item.hash
    try:
        if item.kind == "block":
            return decode_bundle_hash(item.payload).block.hash.lower()
        return decode_hash_ref(item.payload).hash.lower()
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def keep_first(seen: SeenSet, item: RawItem, ref: str) -> bool:
    """Whether ``item`` is the first sighting of ``ref`` on its chain (duplicates are counted)."""
    first = seen.first_sighting((item.chain_id, ref), item.seen_ms, item.source)
    if first is None:
        return True
    chain = str(item.chain_id)
    SOURCE_DUPLICATES.labels(chain, item.kind).inc()
    if item.source != first[1]:
        SIGHTING_DELAY_SECONDS.labels(chain).observe(max(0, item.seen_ms - first[0]) / 1000)
    return False


def shard_key(chain_id: int, ref: str, shards: int) -> str:
    """Spread one chain over ``shards`` keys (and so workers) by the hash's last bytes."""
    try:
        shard = int(ref[-4:], 16) % shards
    except ValueError:
        shard = 0
    return f"{chain_id}:{shard}"
