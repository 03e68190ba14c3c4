"""Pending txs for mempool-detector tests, enriched by the project's own enrich step."""

from __future__ import annotations

from operators.enrich import DEFAULT_ENRICHER
from operators.records import EnrichedTx, Trace, Tx

# Mainnet names the pending swaps of these tests use, and made-up actors.
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
UNI_ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
ALICE = "0x" + "a1" * 20
BOT = "0x" + "b0" * 20
BOT_CONTRACT = "0x" + "bc" * 20
GWEI = 10**9
EXACT_ETH_IN = (
    "swapExactETHForTokens(uint256 amountOutMin,address[] path,address to,uint256 deadline)"
)
EXACT_TOKENS_IN = (
    "swapExactTokensForETH(uint256 amountIn,uint256 amountOutMin,address[] path,address to,"
    "uint256 deadline)"
)


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
