"""Private order flow: which mined txs were never public.

A mined tx is ``private: "true"`` when no source of its chain saw it pending although one was
watching the chain's pending txs (a healthy, subscribed connection) throughout the ``lookback``
before the block's timestamp: a builder or relay put it in the block without it crossing the
public mempool. A tx seen pending is ``"false"`` (whatever the watch did later). Anything else is
``"unknown"``: no healthy source was watching at the time (a dropped socket, a backfilled block,
a replay of recorded data without source states), or an L2 system tx (deposits, Arbitrum
internal txs), which never passes a mempool.

The RPC source is the truth about connection states: each session emits a ``watch`` item
(``watch_item``) when its pending watch comes up and when its connection drops. The tracker is
one per chain (the flow keys it by chain id); its memory is bounded by ``max_pending`` pending
hashes (and their TTL), ``reorg_depth`` recent blocks' public txs and ``max_intervals`` closed
watch intervals.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping

import msgspec

from operators.metrics import MINED_TXS_PRIVATE, STATE_EVICTIONS
from operators.records import Block, RawItem

PRIVATE = "true"
PUBLIC = "false"
UNKNOWN = "unknown"
STATUSES = (PRIVATE, PUBLIC, UNKNOWN)

# A RawItem of this kind carries a source's watch state (see ``watch_item``).
WATCH_KIND = "watch"
# Deposits (OP stack) and Arbitrum's internal/retryable txs are made by the chain itself.
SYSTEM_TX_TYPES = frozenset({0x7E, 0x64, 0x65, 0x66, 0x68, 0x69, 0x6A})


class WatchState(msgspec.Struct, frozen=True):
    """A source's pending watch on a chain came up (``connected``) or went down at ``at_ms``."""

    chain_id: int
    source: str
    connected: bool
    at_ms: int


class _Payload(msgspec.Struct):
    connected: bool


_decode_payload = msgspec.json.Decoder(_Payload).decode


def watch_item(chain_id: int, source: str, connected: bool, at_ms: int) -> RawItem:
    """The item a source emits when its watch changes state."""
    payload = msgspec.json.encode(_Payload(connected))
    return RawItem(WATCH_KIND, chain_id, source, at_ms, payload)


def is_watch_item(item: object) -> bool:
    return isinstance(item, RawItem) and item.kind == WATCH_KIND


def watch_state(item: object) -> WatchState | None:
    """The state a watch item reports; None for any other item or an undecodable payload."""
    if not is_watch_item(item):
        return None
    assert isinstance(item, RawItem)
    try:
        connected = _decode_payload(item.payload).connected
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return WatchState(item.chain_id, item.source, connected, item.seen_ms)


class PrivateFlowTracker:
    """Pending sightings and watch states of one chain; annotates its blocks."""

    _forgot_ms: int | None = None  # also the value of a state pickled before this field existed

    def __init__(
        self,
        chain_id: int,
        lookback_ms: int,
        max_pending: int = 250_000,
        pending_ttl_ms: int = 3_600_000,
        reorg_depth: int = 64,
        max_intervals: int = 256,
    ) -> None:
        self.chain_id = chain_id
        self.lookback_ms = lookback_ms
        self.max_pending = max_pending
        self.pending_ttl_ms = pending_ttl_ms
        self.reorg_depth = reorg_depth
        self._pending: OrderedDict[str, int] = OrderedDict()  # tx hash → first seen ms
        # Public txs of recent blocks: a reorg may mine them again, still public.
        self._recent: OrderedDict[int, frozenset[str]] = OrderedDict()
        self._up: dict[str, int] = {}  # source → watching since (ms)
        self._intervals: deque[tuple[int, int]] = deque(maxlen=max_intervals)
        self._clock = 0
        # First-seen time of the newest pending tx the cap forgot: a tx mined after it may have
        # been seen pending and forgotten, so a miss is no proof of privacy until the TTL passes.
        self._forgot_ms: int | None = None

    # --- inputs -----------------------------------------------------------------------------

    def on_watch(self, state: WatchState) -> None:
        since = self._up.get(state.source)
        if state.connected:
            if since is None:
                self._up[state.source] = state.at_ms
        elif since is not None:
            del self._up[state.source]
            self._intervals.append((since, state.at_ms))

    def on_pending(self, tx_hash: str, seen_ms: int) -> None:
        self._clock = max(self._clock, seen_ms)
        if tx_hash not in self._pending:
            self._pending[tx_hash] = seen_ms
        while len(self._pending) > self.max_pending:
            _, forgotten = self._pending.popitem(last=False)
            self._forgot_ms = max(self._forgot_ms or forgotten, forgotten)
            STATE_EVICTIONS.labels("private_flow", "max_pending").inc()
        horizon = self._clock - self.pending_ttl_ms
        while self._pending and next(iter(self._pending.values())) < horizon:
            self._pending.popitem(last=False)

    def watched(self, at_ms: int) -> bool:
        """Whether some source watched the pending txs throughout [at_ms - lookback, at_ms]."""
        start = at_ms - self.lookback_ms
        if any(since <= start for since in self._up.values()):
            return True
        return any(since <= start and at_ms <= until for since, until in self._intervals)

    def on_block(self, block: Block) -> Block:
        """``block`` with ``tx_private`` (and each tx's ``private``) set."""
        at_ms = block.timestamp * 1000
        # Over the cap, an unmatched tx may be one the tracker forgot: then it is unknown.
        forgot = self._forgot_ms
        watched = self.watched(at_ms) and (forgot is None or forgot < at_ms - self.pending_ttl_ms)
        types = {tx.hash: tx.tx_type for tx in block.txs}
        hashes = block.tx_hashes or tuple(types)
        public: set[str] = set()
        statuses: list[str] = []
        for tx_hash in hashes:
            if self._pending.pop(tx_hash, None) is not None or self._public_before(tx_hash):
                status = PUBLIC
                public.add(tx_hash)
            elif watched and types.get(tx_hash) not in SYSTEM_TX_TYPES:
                status = PRIVATE
            else:
                status = UNKNOWN
            statuses.append(status)
        self._recent[block.number] = frozenset(public)
        self._recent.move_to_end(block.number)
        while len(self._recent) > self.reorg_depth:
            self._recent.popitem(last=False)
        counter = MINED_TXS_PRIVATE
        chain = str(self.chain_id)
        for status in STATUSES:
            n = statuses.count(status)
            if n:
                counter.labels(chain, status).inc(n)
        return annotated(block, dict(zip(hashes, statuses, strict=True)))

    def _public_before(self, tx_hash: str) -> bool:
        return any(tx_hash in txs for txs in self._recent.values())


def annotated(block: Block, status: Mapping[str, str]) -> Block:
    """``block`` with the given private status of each of its txs (``unknown`` where missing)."""
    hashes = block.tx_hashes or tuple(tx.hash for tx in block.txs)
    txs = tuple(
        msgspec.structs.replace(tx, private=status.get(tx.hash, UNKNOWN)) for tx in block.txs
    )
    return msgspec.structs.replace(
        block, txs=txs, tx_private=tuple(status.get(h, UNKNOWN) for h in hashes)
    )


def private_status(block: Block) -> dict[str, str]:
    """Each tx hash of an annotated block with its status (empty for a block never annotated)."""
    hashes = block.tx_hashes or tuple(tx.hash for tx in block.txs)
    if len(block.tx_private) != len(hashes):
        return {}
    return dict(zip(hashes, block.tx_private, strict=True))


def share(statuses: Iterable[str]) -> dict[str, int | float | None]:
    """Counts of each status and the private share of the txs whose status is known."""
    listed = list(statuses)
    private, public = listed.count(PRIVATE), listed.count(PUBLIC)
    known = private + public
    return {
        "private": private,
        "public": public,
        "unknown": listed.count(UNKNOWN),
        "private_share": private / known if known else None,
    }
