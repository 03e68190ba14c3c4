"""A signed transaction from a sequencer feed → the flow's ``RawItem`` (or a ``DeadLetter``).

The item is what a node would serve for the transaction (``operators.signed_tx``) plus its place
in the sequencer's order, ``position``; its ``kind`` is the lifecycle stage the feed vouches for:
``sequenced`` (Arbitrum: ordered, will be in the next block) or ``preconfirmed`` (Flashblocks:
executed in a sub-block of the block being built). The normalizer makes a ``Tx`` of it with that
``stage``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from operators.records import DeadLetter, RawItem
from operators.signed_tx import BadTx, decode_signed_tx

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


def tx_item(
    envelope: bytes,
    kind: str,
    position: tuple[int, ...],
    chain_id: int,
    source: str,
    seen_ms: int,
    stage: str,
) -> RawItem | DeadLetter:
    """One signed envelope at ``position`` → a RawItem, or a dead letter saying why not."""
    try:
        fields: dict[str, Any] = decode_signed_tx(envelope)
    except BadTx as exc:
        return dead(stage, str(exc), "0x" + envelope.hex(), source, chain_id, seen_ms)
    tx_chain = fields.get("chainId")
    if tx_chain is not None and int(tx_chain, 16) != chain_id:
        return dead(
            stage,
            f"wrong chain id: tx {fields['hash']} is signed for chain {int(tx_chain, 16)}, "
            f"the feed is chain {chain_id}",
            "0x" + envelope.hex(),
            source,
            chain_id,
            seen_ms,
        )
    fields["position"] = list(position)
    return RawItem(kind, chain_id, source, seen_ms, _encode(fields), fields["hash"])
