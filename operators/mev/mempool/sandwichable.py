"""Sandwichable victims: pending swaps whose slippage tolerance leaves room for a profitable
sandwich, judged against a quote from the pools' current reserves.

Only constant-product hops (Uniswap V2 and forks) are quoted: their reserves give the exact
output. Reserves come from an injected ``reserves(chain_id, pool) -> (reserve0, reserve1) | None``
(the RPC connector fetches ``getReserves`` and caches it per block), so this stays pure. For a
single-hop exact-input swap the largest frontrun that keeps the victim at its minimum output and
the profit it would make are computed exactly.

Windowing: stateless per tx (any key; ``window_key`` = chain + first pool keeps quotes local).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from operators.mev.mempool import amm
from operators.mev.pools import BUNDLED, AmmFactories, Hop
from operators.records import Detection, EnrichedTx, Swap

ReservesLookup = Callable[[int, str], "tuple[int, int] | None"]
BPS = 10_000


def window_key(etx: EnrichedTx, factories: AmmFactories = BUNDLED) -> str:
    chain = etx.tx.chain_id
    first = next((h[0].pool for s in etx.swaps if (h := factories.hops(chain, s))), "none")
    return f"{chain}:{first}"


@dataclass
class SandwichableVictimDetector:
    reserves: ReservesLookup
    # Tolerance at or above which a swap is reported (50 bps = 0.5%, a common wallet default).
    min_slippage_bps: int = 50
    factories: AmmFactories = BUNDLED

    def on_tx(self, etx: EnrichedTx, now_ms: int | None = None) -> list[Detection]:
        if etx.tx.block_number is not None:
            return []
        found = []
        for index, swap in enumerate(etx.swaps):
            detection = self._judge(etx, index, swap, now_ms)
            if detection is not None:
                found.append(detection)
        return found

    def quoted(self, etx: EnrichedTx) -> EnrichedTx:
        """``etx`` with ``Swap.quote`` set on each swap the reserves price exactly (every hop a
        constant-product pool): the expected output of an exact-input swap, the input an
        exact-output one needs. The rule engine derives ``swap.slippage`` from it."""
        if etx.tx.block_number is not None or not etx.swaps:
            return etx
        swaps = tuple(self._with_quote(etx.tx.chain_id, swap) for swap in etx.swaps)
        return etx if swaps == etx.swaps else msgspec.structs.replace(etx, swaps=swaps)

    def _with_quote(self, chain_id: int, swap: Swap) -> Swap:
        pools = self._path_reserves(chain_id, self.factories.hops(chain_id, swap))
        if pools is None:
            return swap
        quote: int | None = None
        if swap.exact_input and swap.amount_in:
            quote = amm.quote_out(swap.amount_in, pools)
        elif not swap.exact_input and swap.amount_out:
            quote = amm.quote_in(swap.amount_out, pools)
        return msgspec.structs.replace(swap, quote=quote) if quote else swap

    def _path_reserves(self, chain_id: int, path: list[Hop]) -> list[tuple[int, int]] | None:
        """(reserve in, reserve out) of every hop; None when any hop cannot be quoted."""
        if not path:
            return None
        pools: list[tuple[int, int]] = []
        for hop in path:
            reserves = self._pool_reserves(chain_id, hop)
            if reserves is None:
                return None
            pools.append(reserves)
        return pools

    def _pool_reserves(self, chain_id: int, hop: Hop) -> tuple[int, int] | None:
        if hop.family != "v2":
            return None
        reserves = self.reserves(chain_id, hop.pool)
        if reserves is None:
            return None
        reserve0, reserve1 = reserves
        # Pairs store reserves in token-address order.
        return (reserve0, reserve1) if hop.token_in < hop.token_out else (reserve1, reserve0)

    def _judge(
        self, etx: EnrichedTx, index: int, swap: Swap, now_ms: int | None
    ) -> Detection | None:
        tx = etx.tx
        path = self.factories.hops(tx.chain_id, swap)
        pools = self._path_reserves(tx.chain_id, path)
        if pools is None:
            return None
        frontrun, profit = 0, 0
        if swap.exact_input and swap.amount_in and swap.amount_out_min is not None:
            quote = amm.quote_out(swap.amount_in, pools)
            if quote <= 0:
                return None
            slippage_bps = (quote - swap.amount_out_min) * BPS // quote
            if len(pools) == 1:
                frontrun, profit = amm.best_frontrun(swap.amount_in, swap.amount_out_min, *pools[0])
        elif not swap.exact_input and swap.amount_out and swap.amount_in_max is not None:
            needed = amm.quote_in(swap.amount_out, pools)
            if needed is None or needed <= 0:
                return None
            quote = needed
            slippage_bps = (swap.amount_in_max - needed) * BPS // needed
        else:
            return None
        if slippage_bps < self.min_slippage_bps:
            return None
        return Detection(
            key=f"{tx.chain_id}:sandwichable:{tx.hash}:{index}",
            kind="sandwichable_victim",
            chain_id=tx.chain_id,
            tx_hashes=(tx.hash,),
            first_seen_ms=tx.first_seen_ms,
            detected_ms=now_ms if now_ms is not None else tx.first_seen_ms,
            severity="medium" if profit > 0 else "low",
            data={
                "protocol": swap.protocol,
                "router": swap.router,
                "pools": [h.pool for h in path],
                "path": [h.token_in for h in path] + [path[-1].token_out],
                "exact_input": swap.exact_input,
                "amount_in": swap.amount_in,
                "amount_out": swap.amount_out,
                "amount_out_min": swap.amount_out_min,
                "amount_in_max": swap.amount_in_max,
                "quote": quote,
                "slippage_bps": slippage_bps,
                "reserves": [list(r) for r in pools],
                "max_frontrun": frontrun,
                "extractable_profit": profit,
                "profit_token": path[0].token_in,
                "why": f"slippage tolerance {slippage_bps} bps >= {self.min_slippage_bps} bps",
            },
        )
