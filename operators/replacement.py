"""Transaction replacement / gas war: the same (chain, sender, nonce) again with a higher fee.

Nodes keep one pending tx per (sender, nonce) and accept a replacement only if it bumps the fee
(geth: +10% on both caps). A replacement is a cancel, a speed-up, or a gas war when it repeats.
``ReplacementTracker`` is one sender's state machine; ``SenderBucket`` holds the trackers of the
senders of one bucket (``operators.buckets``), which the flow runs inside a bytewax event-time
window keyed by chain and bucket. It emits as soon as a replacement arrives (no wait for the
window to close).

Lifecycle: the window also receives mined sightings. A sender's mined nonce, and every lower one,
leaves the state (a mined tx can no longer be replaced), and later pending sightings at those
nonces are ignored.

State is bounded (operators/LIMITS.md): a sender idle for ``window_ms`` of event time is
forgotten (the replacement window), as is a nonce whose tx has waited that long; at most ``max_senders`` senders per bucket (the least recently
active go first), at most ``max_nonces`` pending nonces per sender, and per nonce at most
``MAX_REPLACED_HASHES`` hashes it has already replaced. Caps count their evictions in
``scorpius_state_evictions``: a spammer costs a bounded amount of memory, never an unbounded one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from operators.buckets import address_bucket
from operators.metrics import STATE_EVICTIONS
from operators.records import Detection, EnrichedTx

# Only txs a user signs can be replaced in a mempool; system txs (OP deposits 0x7e, Arbitrum's
# 0x64-0x6a) share senders and nonces by design and never wait in a mempool.
SIGNED_TYPES = frozenset({0, 1, 2, 3, 4})
# A sender rarely has more than a few dozen txs pending (geth's default account slots: 16, queue: 64).
MAX_NONCES_PER_SENDER = 256
# Hashes a nonce's current tx has replaced: a re-gossiped loser must not count as a new round.
MAX_REPLACED_HASHES = 32


# Senders one bucket window tracks (config detect.replacement_max_senders).
MAX_SENDERS = 50_000


def sender_key(etx: EnrichedTx) -> str:
    return address_bucket(etx.tx.chain_id, etx.tx.sender)


def _digest(calldata: str) -> bytes:
    if calldata in ("", "0x"):
        return b""
    return hashlib.blake2b(calldata.encode(), digest_size=16).digest()


@dataclass
class _Seen:
    hash: str
    fee_cap: int
    tip_cap: int
    first_seen_ms: int
    to: str | None
    # What the calldata is, not the calldata: a 16-byte digest (empty for none), since the
    # window state is pickled at every epoch and only "same calldata?" and "empty?" are asked.
    calldata: bytes
    replacements: int = 0
    # Hashes this nonce has already seen replaced, newest last (bounded by MAX_REPLACED_HASHES).
    replaced: tuple[str, ...] = ()


@dataclass
class ReplacementTracker:
    """State of one (chain, sender) window: the best-known tx per nonce."""

    min_fee_bump: float = 0.10
    max_nonces: int = MAX_NONCES_PER_SENDER
    by_nonce: dict[int, _Seen] = field(default_factory=dict)
    # Newest event time of the sender's pending txs: when it was last active.
    active_ms: int = 0
    # Highest nonce of the sender seen mined: txs at or below it can no longer be replaced.
    mined_nonce: int = -1

    def on_tx(self, etx: EnrichedTx, now_ms: int) -> list[Detection]:
        tx = etx.tx
        if tx.nonce is None or tx.block_number is not None or tx.tx_type not in SIGNED_TYPES:
            return []
        if tx.nonce <= self.mined_nonce:
            return []
        self.active_ms = max(self.active_ms, tx.first_seen_ms)
        incoming = _Seen(
            tx.hash, tx.fee_cap, tx.tip_cap, tx.first_seen_ms, tx.to, _digest(tx.input)
        )
        seen = self.by_nonce.get(tx.nonce)
        if seen is None:
            self.by_nonce[tx.nonce] = incoming
            self._bound()
            return []
        if seen.hash == tx.hash or tx.hash in seen.replaced:
            # The same tx again (another node, a re-broadcast): nothing new happened.
            return []
        # Items may arrive out of event-time order: the later-seen tx is the replacement.
        # Seen in the same millisecond (one batch of announcements): nodes accept only a higher
        # fee as a replacement, so the higher fee cap is the new one.
        old, new = sorted((seen, incoming), key=lambda s: (s.first_seen_ms, s.fee_cap))
        if old.fee_cap and (new.fee_cap - old.fee_cap) / old.fee_cap < self.min_fee_bump:
            # Nodes reject underpriced replacements, so this one did not take effect.
            return []
        new.replacements = max(old.replacements, new.replacements) + 1
        history = (*old.replaced, *new.replaced, old.hash)
        new.replaced = tuple(dict.fromkeys(history))[-MAX_REPLACED_HASHES:]
        self.by_nonce[tx.nonce] = new
        cancel = new.to == tx.sender and not new.calldata and old.to != new.to
        return self._report(tx.chain_id, tx.sender, tx.nonce, old, new, now_ms, cancel)

    def _report(
        self,
        chain_id: int,
        sender: str,
        nonce: int,
        old: _Seen,
        new: _Seen,
        now_ms: int,
        cancel: bool,
    ) -> list[Detection]:
        rounds = max(new.replacements, 1)
        kind = "cancellation" if cancel else ("gas_war" if rounds >= 2 else "replacement")
        bump = (new.fee_cap - old.fee_cap) / old.fee_cap if old.fee_cap else None
        return [
            Detection(
                key=f"{chain_id}:replacement:{old.hash}:{new.hash}",
                kind="replacement",
                chain_id=chain_id,
                tx_hashes=(old.hash, new.hash),
                first_seen_ms=old.first_seen_ms,
                detected_ms=now_ms,
                severity="low" if kind == "replacement" else "medium",
                data={
                    "subtype": kind,
                    "sender": sender,
                    "nonce": nonce,
                    "old_hash": old.hash,
                    "new_hash": new.hash,
                    "old_fee_cap": old.fee_cap,
                    "new_fee_cap": new.fee_cap,
                    "old_tip_cap": old.tip_cap,
                    "new_tip_cap": new.tip_cap,
                    "fee_bump": round(bump, 6) if bump is not None else None,
                    "ms_between": new.first_seen_ms - old.first_seen_ms,
                    "rounds": rounds,
                    "same_target": old.to == new.to,
                    "same_calldata": old.calldata == new.calldata,
                },
            )
        ]

    def settle(self, nonce: int) -> None:
        """The sender's tx at ``nonce`` is mined: it and every lower nonce are final."""
        self.mined_nonce = max(self.mined_nonce, nonce)
        for pending in [n for n in self.by_nonce if n <= nonce]:
            del self.by_nonce[pending]

    def expire(self, horizon_ms: int) -> None:
        """Forgets nonces whose newest tx was first seen before ``horizon_ms`` (a tx pending
        longer than the replacement window), oldest-arrived first."""
        by_nonce = self.by_nonce
        while by_nonce:
            nonce, seen = next(iter(by_nonce.items()))
            if seen.first_seen_ms >= horizon_ms:
                return
            del by_nonce[nonce]

    def merge(self, other: ReplacementTracker) -> None:
        self.active_ms = max(self.active_ms, other.active_ms)
        for nonce, seen in other.by_nonce.items():
            mine = self.by_nonce.get(nonce)
            if mine is None or seen.first_seen_ms > mine.first_seen_ms:
                self.by_nonce[nonce] = seen
        self.settle(max(self.mined_nonce, other.mined_nonce))
        self._bound()

    def _bound(self) -> None:
        """Forgets the lowest nonces over ``max_nonces``: they are the first a block confirms."""
        over = len(self.by_nonce) - self.max_nonces
        if over <= 0:
            return
        for nonce in sorted(self.by_nonce)[:over]:
            del self.by_nonce[nonce]
        STATE_EVICTIONS.labels("replacement", "max_nonces").inc(over)


@dataclass
class SenderBucket:
    """The replacement trackers of one bucket of senders, least recently active first."""

    min_fee_bump: float = 0.10
    max_nonces: int = MAX_NONCES_PER_SENDER
    window_ms: int = 300_000
    max_senders: int = MAX_SENDERS
    trackers: dict[str, ReplacementTracker] = field(default_factory=dict)

    def on_tx(self, etx: EnrichedTx, now_ms: int) -> list[Detection]:
        tx = etx.tx
        if tx.nonce is None or tx.tx_type not in SIGNED_TYPES:
            return []
        if tx.block_number is not None:
            mined = self.trackers.get(tx.sender)
            if mined is not None:
                mined.settle(tx.nonce)
            return []
        tracker = self.trackers.pop(tx.sender, None)
        if tracker is None:
            tracker = ReplacementTracker(self.min_fee_bump, self.max_nonces)
        # Re-inserted at the end: the dict stays in order of last activity.
        self.trackers[tx.sender] = tracker
        found = tracker.on_tx(etx, now_ms)
        tracker.expire(tx.first_seen_ms - self.window_ms)
        self._expire(tx.first_seen_ms)
        return found

    def _expire(self, event_ms: int) -> None:
        horizon = event_ms - self.window_ms
        while self.trackers:
            sender, oldest = next(iter(self.trackers.items()))
            if oldest.active_ms >= horizon and len(self.trackers) <= self.max_senders:
                break
            del self.trackers[sender]
            if oldest.active_ms >= horizon:
                STATE_EVICTIONS.labels("replacement", "max_senders").inc()

    def merge(self, other: SenderBucket) -> None:
        for sender, tracker in other.trackers.items():
            mine = self.trackers.get(sender)
            if mine is None:
                self.trackers[sender] = tracker
            else:
                mine.merge(tracker)
        # Back into order of last activity, then within the caps.
        order = sorted(self.trackers.items(), key=lambda item: item[1].active_ms)
        self.trackers = dict(order)
        if self.trackers:
            self._expire(max(t.active_ms for t in self.trackers.values()))
