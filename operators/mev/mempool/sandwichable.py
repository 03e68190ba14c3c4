"""Sandwichable victims: pending swaps whose slippage tolerance leaves room for a profitable
sandwich, judged against a quote from the pools' current reserves.

Only constant-product hops (Uniswap V2 and forks) are quoted: their reserves give the exact
output. Reserves come from an injected ``reserves(chain_id, pool) -> (reserve0, reserve1) | None``
(the RPC connector fetches ``getReserves`` and caches it per block), so this stays pure. For a
single-hop exact-input swap the largest frontrun that keeps the victim at its minimum output and
the profit it would make are computed exactly.

A searcher's leg is not a victim: a swap whose sender had a pending swap on the same pool the
other way within ``SearcherLegs.horizon_ms`` (a sandwich bot's backrun, which often asks for no
minimum output) is skipped. That memory is per chain and bounded (``SearcherLegs``).

Windowing: per chain (the quote step's state holds the legs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

import msgspec

from operators.metrics import STATE_EVICTIONS
from operators.mev.mempool import amm
from operators.mev.pools import BUNDLED, AmmFactories, Hop
from operators.records import Detection, EnrichedTx, Swap

ReservesLookup = Callable[[int, str], "tuple[int, int] | None"]
BPS = 10_000


def window_key(etx: EnrichedTx, factories: AmmFactories = BUNDLED) -> str:
    chain = etx.tx.chain_id
    first = next((h[0].pool for s in etx.swaps if (h := factories.hops(chain, s))), "none")
    return f"{chain}:{first}"


# Senders' recent swap directions kept per chain; over it the least recently active go.
MAX_LEGS = 20_000
LEG_HORIZON_MS = 60_000


@dataclass
class SearcherLegs:
    """(sender, pool) -> the directions it swapped pending and when: a round trip is a searcher."""

    seen: dict[tuple[str, str], dict[tuple[str, str], int]] = field(default_factory=dict)
    max_entries: int = MAX_LEGS
    horizon_ms: int = LEG_HORIZON_MS

    def round_trip(self, etx: EnrichedTx, hops: list[Hop]) -> bool:
        """Records ``etx``'s hops; whether its sender swapped the other way on one of them."""
        tx = etx.tx
        found = False
        for hop in hops:
            key = (tx.sender, hop.pool)
            ways = self.seen.pop(key, {})  # re-inserted last: most recently active
            back = ways.get((hop.token_out, hop.token_in))
            if back is not None and tx.first_seen_ms - back <= self.horizon_ms:
                found = True
            ways[(hop.token_in, hop.token_out)] = tx.first_seen_ms
            self.seen[key] = ways
        over = len(self.seen) - self.max_entries
        if over > 0:
            for key in list(islice(self.seen, over)):
                del self.seen[key]
            STATE_EVICTIONS.labels("quote", "max_legs").inc(over)
        return found


@dataclass
class SandwichableVictimDetector:
    reserves: ReservesLookup
    # Tolerance at or above which a swap is reported (50 bps = 0.5%, a common wallet default).
    min_slippage_bps: int = 50
    factories: AmmFactories = BUNDLED
    legs: SearcherLegs | None = None

    def on_tx(self, etx: EnrichedTx, now_ms: int | None = None) -> list[Detection]:
        if etx.tx.block_number is not None:
            return []
        if self.legs is not None:
            chain = etx.tx.chain_id
            hops = [h for swap in etx.swaps for h in self.factories.hops(chain, swap)]
            if self.legs.round_trip(etx, hops):
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
