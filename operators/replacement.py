"""Transaction replacement / gas war: the same (chain, sender, nonce) again with a higher fee.

Nodes keep one pending tx per (sender, nonce) and accept a replacement only if it bumps the fee
(geth: +10% on both caps). A replacement is a cancel, a speed-up, or a gas war when it repeats.
The logic is a per-window state machine that the flow runs inside a bytewax event-time window
keyed by chain and sender; it emits as soon as a replacement arrives (no wait for the window to close).

State is bounded (operators/LIMITS.md): at most ``max_nonces`` pending nonces per (chain, sender)
window, and per nonce at most ``MAX_REPLACED_HASHES`` hashes it has already replaced. Over the cap
the lowest nonce (the one a block takes first) is forgotten and ``scorpius_state_evictions``
counts it: a spammer costs a bounded amount of memory, never an unbounded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from operators.metrics import STATE_EVICTIONS
from operators.records import Detection, EnrichedTx

# Only txs a user signs can be replaced in a mempool; system txs (OP deposits 0x7e, Arbitrum's
# 0x64-0x6a) share senders and nonces by design and never wait in a mempool.
SIGNED_TYPES = frozenset({0, 1, 2, 3, 4})
# A sender rarely has more than a few dozen txs pending (geth's default account slots: 16, queue: 64).
MAX_NONCES_PER_SENDER = 256
# Hashes a nonce's current tx has replaced: a re-gossiped loser must not count as a new round.
MAX_REPLACED_HASHES = 32


def sender_key(etx: EnrichedTx) -> str:
    return f"{etx.tx.chain_id}:{etx.tx.sender}"


@dataclass
class _Seen:
    hash: str
    fee_cap: int
    tip_cap: int
    first_seen_ms: int
    to: str | None
    input: str
    replacements: int = 0
    # Hashes this nonce has already seen replaced, newest last (bounded by MAX_REPLACED_HASHES).
    replaced: tuple[str, ...] = ()


@dataclass
class ReplacementTracker:
    """State of one (chain, sender) window: the best-known tx per nonce."""

    min_fee_bump: float = 0.10
    max_nonces: int = MAX_NONCES_PER_SENDER
    by_nonce: dict[int, _Seen] = field(default_factory=dict)

    def on_tx(self, etx: EnrichedTx, now_ms: int) -> list[Detection]:
        tx = etx.tx
        if tx.nonce is None or tx.block_number is not None or tx.tx_type not in SIGNED_TYPES:
            return []
        incoming = _Seen(tx.hash, tx.fee_cap, tx.tip_cap, tx.first_seen_ms, tx.to, tx.input)
        seen = self.by_nonce.get(tx.nonce)
        if seen is None:
            self.by_nonce[tx.nonce] = incoming
            self._bound()
            return []
        if seen.hash == tx.hash or tx.hash in seen.replaced:
            # The same tx again (another node, a re-broadcast): nothing new happened.
            return []
        # Items may arrive out of event-time order: the later-seen tx is the replacement.
        old, new = (
            (seen, incoming) if incoming.first_seen_ms >= seen.first_seen_ms else (incoming, seen)
        )
        if old.fee_cap and (new.fee_cap - old.fee_cap) / old.fee_cap < self.min_fee_bump:
            # Nodes reject underpriced replacements, so this one did not take effect.
            return []
        new.replacements = max(old.replacements, new.replacements) + 1
        history = (*old.replaced, *new.replaced, old.hash)
        new.replaced = tuple(dict.fromkeys(history))[-MAX_REPLACED_HASHES:]
        self.by_nonce[tx.nonce] = new
        cancel = new.to == tx.sender and new.input in ("", "0x") and old.to != new.to
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
                    "same_calldata": old.input == new.input,
                },
            )
        ]

    def merge(self, other: ReplacementTracker) -> None:
        for nonce, seen in other.by_nonce.items():
            mine = self.by_nonce.get(nonce)
            if mine is None or seen.first_seen_ms > mine.first_seen_ms:
                self.by_nonce[nonce] = seen
        self._bound()

    def _bound(self) -> None:
        """Forgets the lowest nonces over ``max_nonces``: they are the first a block confirms."""
        over = len(self.by_nonce) - self.max_nonces
        if over <= 0:
            return
        for nonce in sorted(self.by_nonce)[:over]:
            del self.by_nonce[nonce]
        STATE_EVICTIONS.labels("replacement", "max_nonces").inc(over)
