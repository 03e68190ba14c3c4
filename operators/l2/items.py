"""A signed transaction from a sequencer feed → the flow's ``RawItem`` (or a ``DeadLetter``).

The item is what a node would serve for the transaction (``operators.signed_tx``) plus its place
in the sequencer's order, ``position``; its ``kind`` is the lifecycle stage the feed vouches for:
``sequenced`` (Arbitrum: ordered, will be in the next block) or ``preconfirmed`` (Flashblocks:
executed in a sub-block of the block being built). The normalizer makes a ``Tx`` of it with that
``stage``.

A frame's txs are decoded first and their senders recovered together at the end (``FrameTxs``):
the recovery is most of a tx's cost, and a ``SenderRecovery`` with an executor runs it on
several threads (libsecp256k1 runs without the GIL).
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import msgspec

from operators.records import DeadLetter, RawItem
from operators.signed_tx import BadTx, Signature, decode_unsigned, recover_senders

SEQUENCED = "sequenced"
PRECONFIRMED = "preconfirmed"
STAGES = (SEQUENCED, PRECONFIRMED)
# A dead letter keeps at most this much of the frame or envelope it could not read.
DEAD_LETTER_MAX_CHARS = 1 << 16

_encode = msgspec.json.Encoder().encode


def dead(
    stage: str, reason: str, payload: str, source: str, chain_id: int, at_ms: int
) -> DeadLetter:
    if len(payload) > DEAD_LETTER_MAX_CHARS:
        reason = f"{reason} (payload cut to {DEAD_LETTER_MAX_CHARS} of {len(payload)} chars)"
        payload = payload[:DEAD_LETTER_MAX_CHARS]
    return DeadLetter(stage, reason, payload, source, chain_id, at_ms)


@dataclass(frozen=True)
class SenderRecovery:
    """Where a frame's senders are recovered: inline (no executor), or split in ``threads``
    parts on the executor (a thread pool of that size)."""

    executor: Executor | None = None
    threads: int = 1

    def recover(self, signatures: list[Signature]) -> list[str | BadTx]:
        if self.executor is None:
            return recover_senders(signatures)
        return recover_senders(signatures, self.executor.map, self.threads)


INLINE = SenderRecovery()


@dataclass
class FrameTxs:
    """The items of one frame in order: dead letters as they come, txs decoded as they come and
    completed by ``items`` once every sender is recovered."""

    kind: str
    chain_id: int
    source: str
    seen_ms: int
    stage: str
    _out: list[RawItem | DeadLetter | None] = field(default_factory=list)
    _waiting: list[tuple[int, dict[str, Any], bytes]] = field(default_factory=list)
    _signatures: list[Signature] = field(default_factory=list)

    def letter(self, reason: str, payload: str) -> None:
        self._out.append(
            dead(self.stage, reason, payload, self.source, self.chain_id, self.seen_ms)
        )

    def add(self, envelope: bytes, position: tuple[int, ...]) -> None:
        """One signed envelope at ``position``: decoded now, or a dead letter saying why not."""
        try:
            fields, signature = decode_unsigned(envelope)
        except BadTx as exc:
            self.letter(str(exc), "0x" + envelope.hex())
            return
        tx_chain = fields.get("chainId")
        if tx_chain is not None and int(tx_chain, 16) != self.chain_id:
            self.letter(
                f"wrong chain id: tx {fields['hash']} is signed for chain {int(tx_chain, 16)}, "
                f"the feed is chain {self.chain_id}",
                "0x" + envelope.hex(),
            )
            return
        fields["position"] = list(position)
        if signature is None:  # an OP deposit: its sender is a field
            self._out.append(self._item(fields))
            return
        self._waiting.append((len(self._out), fields, envelope))
        self._signatures.append(signature)
        self._out.append(None)

    def items(self, recovery: SenderRecovery = INLINE) -> list[RawItem | DeadLetter]:
        """Every item, senders recovered (a tx whose signature recovers no key is a dead
        letter)."""
        senders = recovery.recover(self._signatures) if self._signatures else []
        for (slot, fields, envelope), sender in zip(self._waiting, senders, strict=True):
            if isinstance(sender, BadTx):
                self._out[slot] = dead(
                    self.stage,
                    str(sender),
                    "0x" + envelope.hex(),
                    self.source,
                    self.chain_id,
                    self.seen_ms,
                )
            else:
                fields["from"] = sender
                self._out[slot] = self._item(fields)
        out = [item for item in self._out if item is not None]
        self._out, self._waiting, self._signatures = [], [], []
        return out

    def _item(self, fields: dict[str, Any]) -> RawItem:
        return RawItem(
            self.kind, self.chain_id, self.source, self.seen_ms, _encode(fields), fields["hash"]
        )
