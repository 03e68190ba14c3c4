"""Inclusion tracking: when (and whether) a pending tx made it into a block, and reorgs.

A pending sighting starts tracking a tx; the first block holding it resolves it as "included"
with latency = block seen time - tx first seen. A block that replaces a tracked block at the same
height (a reorg) reports the replaced block's tracked txs as "reorged" and tracks them as pending
again (with their original first-seen time), as does any tracked block above it. A tx not mined
within ``pending_ttl_ms`` of item time is reported "expired" (dropped or replaced) and forgotten.
L2 sequencer feeds (operators/l2) start tracking at their own stage, "sequenced" or
"preconfirmed" (the record's ``stage``): latency then runs from the sequencer's sighting; a
preconfirmed tx (a Flashblock's) that is missing from the block its flashblock belonged to is
reported "not_landed" (and kept tracked: it may still land later).
Memory is bounded by ``max_pending`` txs and ``reorg_depth`` blocks per chain.

State is per chain (one key per chain): a block and its txs must meet in one place, and mempool
rates (tens to hundreds of txs per second) are far below what one worker handles.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from operators.metrics import INCLUSION_SECONDS, INCLUSION_UNSEEN, INCLUSIONS, STATE_EVICTIONS
from operators.records import Block, DeadLetter, Inclusion, RawItem, Tx
from operators.rpc_json import decode_bundle_ref, decode_hash_ref, decode_sequenced_ref


class PendingSeen(NamedTuple):
    chain_id: int
    tx_hash: str
    seen_ms: int
    source: str
    stage: str | None = None  # L2 feeds: "sequenced" / "preconfirmed"; None: a mempool sighting
    promised_block: int | None = None  # preconfirmed: the block its flashblock belongs to


class BlockSeen(NamedTuple):
    chain_id: int
    number: int
    block_hash: str
    seen_ms: int
    tx_hashes: tuple[str, ...]


Sighting = PendingSeen | BlockSeen
FirstSeen = tuple[int, str, str | None]  # (first seen ms, source, stage)


@dataclass
class _Mined:
    block_hash: str
    seen_ms: int
    # Tracked txs of the block with their pending sighting (untracked ones are not kept).
    txs: dict[str, FirstSeen] = field(default_factory=dict)
    all_txs: frozenset[str] = frozenset()


def _inclusion(
    status: str,
    chain_id: int,
    tx_hash: str,
    first: FirstSeen,
    block_number: int | None = None,
    block_hash: str | None = None,
    included_ms: int | None = None,
    ended_ms: int | None = None,
) -> Inclusion:
    # included / reorged: first seen → block seen; expired: first seen → given up (``ended_ms``)
    end = included_ms if included_ms is not None else ended_ms
    latency = None if end is None else end - first[0]
    return Inclusion(
        key=f"{chain_id}:{tx_hash}:{status}:{block_hash or ''}",
        status=status,
        chain_id=chain_id,
        tx_hash=tx_hash,
        first_seen_ms=first[0],
        source=first[1],
        block_number=block_number,
        block_hash=block_hash,
        included_ms=included_ms,
        latency_ms=latency,
        stage=first[2],
    )


class InclusionTracker:
    """Pending txs and recent blocks of one chain."""

    def __init__(
        self, chain_id: int, pending_ttl_ms: int, max_pending: int, reorg_depth: int
    ) -> None:
        self.chain_id = chain_id
        self.pending_ttl_ms = pending_ttl_ms
        self.max_pending = max_pending
        self.reorg_depth = reorg_depth
        self._pending: OrderedDict[str, FirstSeen] = OrderedDict()
        self._blocks: dict[int, _Mined] = {}
        self._mined_in: dict[str, int] = {}  # tx hash → number of the tracked block holding it
        # Preconfirmed txs by the block number their flashblock promised.
        self._promised: dict[int, dict[str, FirstSeen]] = {}
        self._clock = 0

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def on_sighting(self, sighting: Sighting) -> list[Inclusion]:
        self._clock = max(self._clock, sighting.seen_ms)
        if isinstance(sighting, PendingSeen):
            out = self._on_pending(sighting)
        else:
            out = self._on_block(sighting)
        out.extend(self._expire())
        if out:
            for status, count in Counter(r.status for r in out).items():
                INCLUSIONS.labels(str(self.chain_id), status).inc(count)
        return out

    def _on_pending(self, seen: PendingSeen) -> list[Inclusion]:
        if seen.tx_hash in self._pending or seen.tx_hash in self._mined_in:
            return []  # seen before, or announced only after its block
        self._pending[seen.tx_hash] = (seen.seen_ms, seen.source, seen.stage)
        if seen.promised_block is not None:
            promised = self._promised.setdefault(seen.promised_block, {})
            promised[seen.tx_hash] = self._pending[seen.tx_hash]
        out: list[Inclusion] = []
        while len(self._pending) > self.max_pending:
            # Reported "expired" early: the cap, not the TTL, ended its tracking (counted here).
            tx_hash, first = self._pending.popitem(last=False)
            out.append(_inclusion("expired", self.chain_id, tx_hash, first, ended_ms=seen.seen_ms))
            STATE_EVICTIONS.labels("inclusion", "max_pending").inc()
        return out

    def _on_block(self, seen: BlockSeen) -> list[Inclusion]:
        out: list[Inclusion] = []
        known = self._blocks.get(seen.number)
        if known is not None:
            if known.block_hash == seen.block_hash:
                return out  # the same block again (another URL, a refetch)
            # Reorg: this height and everything tracked above it was replaced.
            for number in sorted(n for n in self._blocks if n >= seen.number):
                out.extend(self._orphan(number))
        chain = str(self.chain_id)
        latency = INCLUSION_SECONDS.labels(chain)
        mined = _Mined(seen.block_hash, seen.seen_ms, all_txs=frozenset(seen.tx_hashes))
        for tx_hash in seen.tx_hashes:
            first = self._pending.pop(tx_hash, None)
            self._mined_in[tx_hash] = seen.number
            if first is None:
                continue
            mined.txs[tx_hash] = first
            record = _inclusion(
                "included",
                self.chain_id,
                tx_hash,
                first,
                seen.number,
                seen.block_hash,
                seen.seen_ms,
            )
            latency.observe(max(0, seen.seen_ms - first[0]) / 1000)
            out.append(record)
        out.extend(self._broken_promises(seen))
        unseen = len(seen.tx_hashes) - len(mined.txs)
        if unseen:
            INCLUSION_UNSEEN.labels(chain).inc(unseen)
        self._blocks[seen.number] = mined
        newest = max(self._blocks)
        for number in [n for n in self._blocks if n <= newest - self.reorg_depth]:
            for tx_hash in self._blocks.pop(number).all_txs:
                self._mined_in.pop(tx_hash, None)
        return out

    def _broken_promises(self, seen: BlockSeen) -> list[Inclusion]:
        """Preconfirmed txs of this block's flashblocks that the block does not hold."""
        for number in [n for n in self._promised if n < seen.number - self.reorg_depth]:
            del self._promised[number]  # their block was never seen: nothing to compare with
        promised = self._promised.pop(seen.number, {})
        landed = set(seen.tx_hashes)
        return [
            _inclusion(
                "not_landed", self.chain_id, tx_hash, first, seen.number, seen.block_hash,
                seen.seen_ms,
            )
            for tx_hash, first in promised.items()
            if tx_hash not in landed
        ]  # fmt: skip

    def _orphan(self, number: int) -> list[Inclusion]:
        block = self._blocks.pop(number)
        out: list[Inclusion] = []
        for tx_hash in block.all_txs:
            self._mined_in.pop(tx_hash, None)
        for tx_hash, first in block.txs.items():
            out.append(
                _inclusion(
                    "reorged",
                    self.chain_id,
                    tx_hash,
                    first,
                    number,
                    block.block_hash,
                    block.seen_ms,
                )
            )
            self._pending[tx_hash] = first  # may well be mined again in the new branch
        return out

    def _expire(self) -> list[Inclusion]:
        horizon = self._clock - self.pending_ttl_ms
        out: list[Inclusion] = []
        while self._pending:
            tx_hash, first = next(iter(self._pending.items()))
            if first[0] >= horizon:
                break
            del self._pending[tx_hash]
            out.append(_inclusion("expired", self.chain_id, tx_hash, first, ended_ms=self._clock))
        return out


# --- sightings from what the flow carries -----------------------------------------------------


SEQUENCER_STAGES = ("sequenced", "preconfirmed")


def _promised_block(stage: str | None, position: tuple[int, ...] | list[int]) -> int | None:
    return position[0] if stage == "preconfirmed" and position else None


def sighting(item: RawItem | Tx | Block | DeadLetter) -> Sighting | None:
    """A pending or block sighting from a source item or a normalized record; None otherwise
    (dead letters, mined Tx records, payloads the normalizer will reject anyway)."""
    if isinstance(item, Tx):
        if item.block_number is not None:
            return None
        return PendingSeen(
            item.chain_id, item.hash, item.first_seen_ms, item.source, item.stage,
            _promised_block(item.stage, item.position),
        )  # fmt: skip
    if isinstance(item, Block):
        if item.hash is None:
            return None
        hashes = item.tx_hashes or tuple(tx.hash for tx in item.txs)
        return BlockSeen(item.chain_id, item.number, item.hash, item.first_seen_ms, hashes)
    if not isinstance(item, RawItem):
        return None
    try:
        if item.kind == "tx":
            tx_hash = item.hash or decode_hash_ref(item.payload).hash
            return PendingSeen(item.chain_id, tx_hash.lower(), item.seen_ms, item.source)
        if item.kind in SEQUENCER_STAGES:
            ref = decode_sequenced_ref(item.payload)
            return PendingSeen(
                item.chain_id, (item.hash or ref.hash).lower(), item.seen_ms, item.source,
                item.kind, _promised_block(item.kind, ref.position),
            )  # fmt: skip
        if item.kind == "block":
            block = decode_bundle_ref(item.payload).block
            hashes = tuple(
                (tx if isinstance(tx, str) else tx.hash).lower() for tx in block.transactions
            )
            return BlockSeen(
                item.chain_id, int(block.number, 16), block.hash.lower(), item.seen_ms, hashes
            )
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    return None
