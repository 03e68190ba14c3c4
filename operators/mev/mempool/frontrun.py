"""Frontrun copies: a later pending tx that replays an earlier pending tx's call to the same
contract - the same calldata, or the same calldata with the original sender's address swapped
for the copier's (generalised frontrunners rewrite the beneficiary) - with a higher tip.

A copy is one searcher against one original; a crowd is a public function (a mint, a claim)
that many people call with the same calldata. So a candidate is held until ``hold_ms`` of event
time has passed after the copy (or either tx is seen mined), and reported only if no more than
``max_senders`` distinct senders (default 2: the original and the copier) sent that calldata
shape to that target in the window; a shape sent by more is a crowd, and none of its pairs is a
copy.

Lifecycle: mined sightings reach the window too. An original seen mined is no longer pending,
so a later tx with its calldata is a new original, never its copy.

Plain transfers, approvals and deposits are left out: identical calls of those are ordinary
(two users approving the same router) rather than copies. A call needs arguments to count.

Windowing: one state per chain and bucket of target contracts (``window_key``: a few dozen
windows per chain rather than one per contract, since bytewax snapshots and pickles every window's
state at each epoch's end); the state keys calldata shapes by target. Event time =
``first_seen_ms``; a window of a few blocks bounds how far back a copy is matched.

State is bounded (operators/LIMITS.md): a busy bucket's window may never close, so at most
``max_originals`` calldata shapes are held per window (and as many reported keys); over it the
earliest recorded are forgotten (``scorpius_state_evictions{stage="frontrun_copy"}``).
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from typing import Any

from operators.buckets import address_bucket
from operators.mev.mempool.capped import evict_oldest
from operators.records import Detection, EnrichedTx, Tx

IGNORED_KINDS = frozenset(
    {"transfer", "token_transfer", "approval", "deposit", "contract_creation"}
)
# Selector plus one 32-byte argument, in hex with the 0x prefix.
MIN_INPUT_CHARS = 2 + 8 + 64
_SENDER = "{sender}"
# Calldata shapes one window holds (config detect.frontrun_max_originals).
MAX_ORIGINALS = 20_000
# How long a candidate copy waits for more senders of its calldata (config detect.frontrun_hold_s).
HOLD_MS = 12_000
# Distinct senders of one calldata shape up to which a copy is a copy, not a crowd.
MAX_SENDERS = 2


def window_key(etx: EnrichedTx) -> str:
    return address_bucket(etx.tx.chain_id, etx.tx.to)


def _generic(tx: Tx) -> str:
    return tx.input.lower().replace(tx.sender[2:].lower(), _SENDER)


@dataclass
class _Candidate:
    original: Tx
    copy: Tx
    rewritten: bool
    shape: bytes
    detected_ms: int | None
    rank: int = 0  # insertion order among held candidates


@dataclass
class FrontrunCopyDetector:
    """State of one (chain, target) window: the first pending tx per calldata shape."""

    originals: dict[bytes, Tx] = field(default_factory=dict)
    # Distinct senders per calldata shape (a crowd has more than max_senders).
    senders: dict[bytes, dict[str, None]] = field(default_factory=dict)
    # Keys of detections already emitted, oldest first (a dict as an ordered set).
    reported: dict[str, None] = field(default_factory=dict)
    # Copies waiting for the crowd test, by key.
    held: dict[str, _Candidate] = field(default_factory=dict)
    # Hashes seen mined, oldest first.
    mined: dict[str, None] = field(default_factory=dict)
    clock_ms: int = 0
    max_originals: int = MAX_ORIGINALS
    hold_ms: int = HOLD_MS
    max_senders: int = MAX_SENDERS
    # Indexes over ``held`` so a tx does not scan every held candidate: when each falls due
    # (a heap of (due ms, rank, key); entries of candidates gone are skipped as they surface)
    # and which candidates name a hash. Rebuilt from ``held`` on restore (__setstate__).
    _due: list[tuple[int, int, str]] = field(default_factory=list)
    _naming: dict[str, set[str]] = field(default_factory=dict)
    _rank: int = 0

    def on_tx(self, etx: EnrichedTx, now_ms: int | None = None) -> list[Detection]:
        tx = etx.tx
        self.clock_ms = max(self.clock_ms, tx.first_seen_ms)
        if tx.block_number is not None:
            self.mined[tx.hash] = None
            self._bound()
            return self._release(now_ms, settled=tx.hash)
        if tx.to is None or etx.kind in IGNORED_KINDS or len(tx.input) < MIN_INPUT_CHARS:
            return self._release(now_ms)
        exact, generic = tx.input.lower(), _generic(tx)
        for calldata, rewritten in ((exact, False), (generic, True)):
            # A digest, not the calldata: shapes key two tables pickled at every epoch.
            shape = hashlib.blake2b(f"{tx.to}{calldata}".encode(), digest_size=16).digest()
            senders = self.senders.setdefault(shape, {})
            if len(senders) <= self.max_senders:
                senders[tx.sender] = None
            original = self.originals.get(shape)
            if original is None or original.hash in self.mined:
                self.originals[shape] = tx
            elif original.sender != tx.sender:
                # Seen in the same millisecond (one batch of announcements): the cheaper one is
                # the original, since a copy must outbid it.
                first, copy = sorted((original, tx), key=lambda t: (t.first_seen_ms, t.tip_cap))
                if copy.tip_cap > first.tip_cap:
                    key = f"{copy.chain_id}:frontrun_copy:{first.hash}:{copy.hash}"
                    if key not in self.reported and key not in self.held:
                        self._hold(
                            key,
                            _Candidate(
                                first,
                                copy,
                                rewritten and exact != original.input.lower(),
                                shape,
                                now_ms,
                            ),
                        )
                if first is tx:
                    self.originals[shape] = tx
        self._bound()
        return self._release(now_ms)

    def on_close(self) -> list[Detection]:
        """The window closes: decide every held candidate on what it saw."""
        return self._release(None, everything=True)

    def _release(
        self, now_ms: int | None, settled: str | None = None, everything: bool = False
    ) -> list[Detection]:
        held = self.held
        if everything:
            keys = list(held)
        else:
            ready: set[str] = set()
            due = self._due
            while due and due[0][0] <= self.clock_ms:
                _, rank, key = heapq.heappop(due)
                candidate = held.get(key)
                if candidate is not None and candidate.rank == rank:
                    ready.add(key)
            if settled is not None:
                ready.update(self._naming.get(settled, ()))
            if not ready:
                return []
            keys = sorted(ready, key=lambda k: held[k].rank)
        found: list[Detection] = []
        for key in keys:
            c = held.pop(key)
            self._unname(key, c)
            if len(self.senders.get(c.shape, ())) > self.max_senders:
                continue  # a crowd calling a public function
            self.reported[key] = None
            found.append(self._detection(key, c, now_ms))
        return found

    def _hold(self, key: str, candidate: _Candidate) -> None:
        self._rank += 1
        candidate.rank = self._rank
        self.held[key] = candidate
        heapq.heappush(self._due, (candidate.copy.first_seen_ms + self.hold_ms, self._rank, key))
        for tx_hash in (candidate.original.hash, candidate.copy.hash):
            self._naming.setdefault(tx_hash, set()).add(key)

    def _unname(self, key: str, candidate: _Candidate) -> None:
        for tx_hash in (candidate.original.hash, candidate.copy.hash):
            keys = self._naming.get(tx_hash)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._naming[tx_hash]

    def _bound(self) -> None:
        for table, limit in (
            (self.originals, "max_originals"),
            (self.senders, "max_shapes"),
            (self.reported, "max_reported"),
            (self.mined, "max_mined"),
        ):
            evict_oldest(table, self.max_originals, "frontrun_copy", limit)
        over = len(self.held) - self.max_originals
        if over > 0:
            for key in list(self.held)[:over]:
                self._unname(key, self.held[key])
            evict_oldest(self.held, self.max_originals, "frontrun_copy", "max_held")
        if len(self._due) > 2 * len(self.held) + 64:
            self._reindex()

    def _detection(self, key: str, c: _Candidate, now_ms: int | None) -> Detection:
        original, copy, rewritten = c.original, c.copy, c.rewritten
        senders = len(self.senders.get(c.shape, ()))
        return Detection(
            key=key,
            kind="frontrun_copy",
            chain_id=copy.chain_id,
            tx_hashes=(original.hash, copy.hash),
            first_seen_ms=original.first_seen_ms,
            detected_ms=now_ms if now_ms is not None else self.clock_ms,
            severity="high",
            data={
                "target": copy.to,
                "selector": copy.selector,
                "original": original.hash,
                "original_sender": original.sender,
                "copy": copy.hash,
                "copier": copy.sender,
                "calldata": "sender_rewritten" if rewritten else "identical",
                "original_tip": original.tip_cap,
                "copy_tip": copy.tip_cap,
                "ms_after": copy.first_seen_ms - original.first_seen_ms,
                "senders": senders,
                "why": "same target and calldata"
                + (" (sender address swapped)" if rewritten else "")
                + f", higher tip, seen {copy.first_seen_ms - original.first_seen_ms} ms later; "
                + f"{senders} senders of this calldata in the window (more would be a crowd)",
            },
        )

    def merge(self, other: FrontrunCopyDetector) -> None:
        """Take in another window's state: the earliest tx per calldata shape wins."""
        for shape, tx in other.originals.items():
            mine = self.originals.get(shape)
            if mine is None or tx.first_seen_ms < mine.first_seen_ms:
                self.originals[shape] = tx
        for shape, senders in other.senders.items():
            self.senders.setdefault(shape, {}).update(senders)
        self.reported.update(other.reported)
        self.mined.update(other.mined)
        for key, candidate in other.held.items():
            if key not in self.held:
                self._hold(key, candidate)
        self.clock_ms = max(self.clock_ms, other.clock_ms)
        self._bound()

    def _reindex(self) -> None:
        self._due, self._naming, self._rank = [], {}, 0
        for key, candidate in list(self.held.items()):
            self._hold(key, candidate)

    def __getstate__(self) -> dict[str, Any]:
        # Bytewax pickles window state at every epoch's end: the indexes are rebuilt, not kept.
        state = dict(self.__dict__)
        for derived in ("_due", "_naming", "_rank"):
            del state[derived]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reindex()
