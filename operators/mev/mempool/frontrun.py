"""Frontrun copies: a later pending tx that replays an earlier pending tx's call to the same
contract - the same calldata, or the same calldata with the original sender's address swapped
for the copier's (generalised frontrunners rewrite the beneficiary) - with a higher tip.

Plain transfers, approvals and deposits are left out: identical calls of those are ordinary
(two users approving the same router) rather than copies. A call needs arguments to count.

Windowing: one state per chain and bucket of target contracts (``window_key``: a few dozen
windows per chain rather than one per contract, since bytewax copies and pickles every window's
state at each epoch's end); the state keys calldata shapes by target. Event time =
``first_seen_ms``; a window of a few blocks bounds how far back a copy is matched.

State is bounded (operators/LIMITS.md): a busy bucket's window may never close, so at most
``max_originals`` calldata shapes are held per window (and as many reported keys); over it the
earliest recorded are forgotten (``scorpius_state_evictions{stage="frontrun_copy"}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

from operators.buckets import address_bucket
from operators.metrics import STATE_EVICTIONS
from operators.records import Detection, EnrichedTx, Tx

IGNORED_KINDS = frozenset(
    {"transfer", "token_transfer", "approval", "deposit", "contract_creation"}
)
# Selector plus one 32-byte argument, in hex with the 0x prefix.
MIN_INPUT_CHARS = 2 + 8 + 64
_SENDER = "{sender}"
# Calldata shapes one window holds (config detect.frontrun_max_originals).
MAX_ORIGINALS = 20_000


def window_key(etx: EnrichedTx) -> str:
    return address_bucket(etx.tx.chain_id, etx.tx.to)


def _generic(tx: Tx) -> str:
    return tx.input.lower().replace(tx.sender[2:].lower(), _SENDER)


@dataclass
class FrontrunCopyDetector:
    """State of one (chain, target) window: the first pending tx per calldata shape."""

    originals: dict[str, Tx] = field(default_factory=dict)
    # Keys of detections already emitted, oldest first (a dict as an ordered set).
    reported: dict[str, None] = field(default_factory=dict)
    max_originals: int = MAX_ORIGINALS

    def on_tx(self, etx: EnrichedTx, now_ms: int | None = None) -> list[Detection]:
        tx = etx.tx
        if (
            tx.block_number is not None
            or tx.to is None
            or etx.kind in IGNORED_KINDS
            or len(tx.input) < MIN_INPUT_CHARS
        ):
            return []
        exact, generic = tx.input.lower(), _generic(tx)
        found: list[Detection] = []
        for calldata, rewritten in ((exact, False), (generic, True)):
            shape = f"{tx.to}{calldata}"
            original = self.originals.get(shape)
            if original is None:
                self.originals[shape] = tx
            elif original.sender != tx.sender:
                first, copy = (
                    (original, tx) if original.first_seen_ms <= tx.first_seen_ms else (tx, original)
                )
                if copy.tip_cap > first.tip_cap:
                    found += self._report(
                        first, copy, rewritten and exact != original.input.lower(), now_ms
                    )
                if tx.first_seen_ms < original.first_seen_ms:
                    self.originals[shape] = tx
        self._bound()
        return found

    def _bound(self) -> None:
        for table, limit in ((self.originals, "max_originals"), (self.reported, "max_reported")):
            over = len(table) - self.max_originals
            if over > 0:
                for key in list(islice(table, over)):
                    del table[key]
                STATE_EVICTIONS.labels("frontrun_copy", limit).inc(over)

    def _report(
        self, original: Tx, copy: Tx, rewritten: bool, now_ms: int | None
    ) -> list[Detection]:
        key = f"{copy.chain_id}:frontrun_copy:{original.hash}:{copy.hash}"
        if key in self.reported:
            return []
        self.reported[key] = None
        return [
            Detection(
                key=key,
                kind="frontrun_copy",
                chain_id=copy.chain_id,
                tx_hashes=(original.hash, copy.hash),
                first_seen_ms=original.first_seen_ms,
                detected_ms=now_ms if now_ms is not None else copy.first_seen_ms,
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
                    "why": "same target and calldata"
                    + (" (sender address swapped)" if rewritten else "")
                    + ", higher tip, seen later",
                },
            )
        ]

    def merge(self, other: FrontrunCopyDetector) -> None:
        """Take in another window's state: the earliest tx per calldata shape wins."""
        for shape, tx in other.originals.items():
            mine = self.originals.get(shape)
            if mine is None or tx.first_seen_ms < mine.first_seen_ms:
                self.originals[shape] = tx
        self.reported.update(other.reported)
        self._bound()
