"""Transaction replacement / gas war: the same (chain, sender, nonce) again with a higher fee.

Nodes keep one pending tx per (sender, nonce) and accept a replacement only if it bumps the fee
(geth: +10% on both caps). A replacement is a cancel, a speed-up, or a gas war when it repeats.
The logic is a per-window state machine that the flow runs inside a bytewax event-time window
keyed by chain and sender; it emits as soon as a replacement arrives (no wait for the window to close).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from operators.records import Detection, EnrichedTx


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


@dataclass
class ReplacementTracker:
    """State of one (chain, sender) window: the best-known tx per nonce."""

    min_fee_bump: float = 0.10
    by_nonce: dict[int, _Seen] = field(default_factory=dict)

    def on_tx(self, etx: EnrichedTx, now_ms: int) -> list[Detection]:
        tx = etx.tx
        if tx.nonce is None or tx.block_number is not None:
            return []
        incoming = _Seen(tx.hash, tx.fee_cap, tx.tip_cap, tx.first_seen_ms, tx.to, tx.input)
        seen = self.by_nonce.get(tx.nonce)
        if seen is None:
            self.by_nonce[tx.nonce] = incoming
            return []
        if seen.hash == tx.hash:
            return []
        # Items may arrive out of event-time order: the later-seen tx is the replacement.
        old, new = (
            (seen, incoming) if incoming.first_seen_ms >= seen.first_seen_ms else (incoming, seen)
        )
        if old.fee_cap and (new.fee_cap - old.fee_cap) / old.fee_cap < self.min_fee_bump:
            # Nodes reject underpriced replacements, so this one did not take effect.
            return []
        new.replacements = max(old.replacements, new.replacements) + 1
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
