"""Pending txs for mempool-detector tests, and a minimal V2-router decoder for replayed calls.

(The project's enrich step decodes every router; these tests only need the six V2 methods.)
"""

from __future__ import annotations

from operators.mev.abi import Function
from operators.records import EnrichedTx, Swap, Trace, Tx

_V2_ROUTER = [
    Function.parse(sig)
    for sig in (
        "swapExactTokensForTokens(uint256 amountIn,uint256 amountOutMin,address[] path,"
        "address to,uint256 deadline)",
        "swapTokensForExactTokens(uint256 amountOut,uint256 amountInMax,address[] path,"
        "address to,uint256 deadline)",
        "swapExactETHForTokens(uint256 amountOutMin,address[] path,address to,uint256 deadline)",
        "swapETHForExactTokens(uint256 amountOut,address[] path,address to,uint256 deadline)",
        "swapExactTokensForETH(uint256 amountIn,uint256 amountOutMin,address[] path,"
        "address to,uint256 deadline)",
        "swapTokensForExactETH(uint256 amountOut,uint256 amountInMax,address[] path,"
        "address to,uint256 deadline)",
    )
]
_BY_SELECTOR = {f.selector: f for f in _V2_ROUTER}


def v2_router_swap(tx: Tx) -> Swap | None:
    function = _BY_SELECTOR.get(tx.input[:10])
    args = function.decode_input(tx.input) if function else None
    if function is None or args is None or tx.to is None:
        return None
    exact_input = function.name.startswith("swapExact")
    eth_in = "ETHFor" in function.name
    amount_in = tx.value if eth_in and exact_input else args.get("amountIn")
    return Swap(
        protocol="uniswap_v2",
        router=tx.to,
        path=tuple(a.lower() for a in args["path"]),
        exact_input=exact_input,
        amount_in=amount_in if exact_input else None,
        amount_out=None if exact_input else args["amountOut"],
        amount_out_min=args.get("amountOutMin") if exact_input else None,
        amount_in_max=None if exact_input else (tx.value if eth_in else args["amountInMax"]),
        recipient=args["to"].lower(),
        deadline=args["deadline"],
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
    swap = v2_router_swap(tx)
    if swap is not None:
        return EnrichedTx(tx=tx, kind="swap", swaps=(swap,))
    return EnrichedTx(tx=tx, kind="other")


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
