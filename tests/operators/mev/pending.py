"""Pending txs for mempool-detector tests, enriched by the project's own enrich step."""

from __future__ import annotations

from operators.enrich import DEFAULT_ENRICHER
from operators.records import EnrichedTx, Trace, Tx


def pending(
    hash_: str,
    sender: str,
    to: str | None,
    data: str = "0x",
    *,
    value: int = 0,
    tip: int | None = None,
    seen_ms: int = 0,
    chain_id: int = 1,
) -> Tx:
    return Tx(
        chain_id=chain_id,
        hash=hash_,
        sender=sender,
        to=to,
        nonce=None,
        value=value,
        gas=300_000,
        tx_type=2 if tip is not None else 0,
        input=data,
        selector=data[:10] if len(data) >= 10 else None,
        first_seen_ms=seen_ms,
        source="test",
        max_fee_per_gas=None if tip is None else tip + 30 * 10**9,
        max_priority_fee_per_gas=tip,
    )


def enriched(tx: Tx) -> EnrichedTx:
    return DEFAULT_ENRICHER.enrich(tx)


def replayed(top_level: list[Trace], start_ms: int, step_ms: int = 100) -> list[EnrichedTx]:
    """A block's top-level calls as a pending stream in block order (no fees, no nonce: traces
    carry neither, so arrival order is all that orders them)."""
    ordered = sorted(top_level, key=lambda t: t.tx_position or 0)
    return [
        enriched(
            pending(
                t.tx_hash or "",
                t.sender or "",
                t.to,
                t.input,
                value=t.value,
                seen_ms=start_ms + i * step_ms,
            )
        )
        for i, t in enumerate(ordered)
    ]
