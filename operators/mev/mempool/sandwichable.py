"""Sandwichable victims: pending swaps whose slippage tolerance leaves room for a profitable
sandwich, judged against a quote from the pools' current reserves.

Only constant-product hops (Uniswap V2 and forks) are quoted: their reserves give the exact
output. Reserves come from an injected ``reserves(chain_id, pool) -> (reserve0, reserve1) | None``
(the RPC connector fetches ``getReserves`` and caches it per block), so this stays pure. For a
single-hop exact-input swap the largest frontrun that keeps the victim at its minimum output and
the profit it would make are computed exactly.

A searcher's leg is not a victim: ``VictimGate`` holds findings briefly and drops those whose
sender has a pending swap on the same pool the other way (a sandwich bot's backrun often asks
for no minimum output).

Windowing: per chain (the quote step's state holds the legs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


# Findings held per chain at most (over it the earliest are decided at once).
MAX_HELD = 10_000
HOLD_MS = 0


@dataclass
class VictimGate:
    """Holds a chain's sandwichable-victim findings until the swap's sender is known not to be
    a searcher: a swap whose sender also has a pending swap on the same pool the other way (a
    round trip: a sandwich bot's frontrun and backrun, the backrun often asking for no minimum)
    is not a victim. One worker meets a chain's txs in the order they were seen, so by default a
    finding is decided at once; where the legs may come in either order, a finding can wait
    ``hold_ms`` of event time (the newest first sighting seen on the chain), or until the next
    block, before it goes out. A block also forgets the legs: a sandwich's legs are pending
    together, so a swap the other way in an earlier block is not one (ordinary traders come back).
    """

    hold_ms: int = HOLD_MS
    # (sender, pool) -> the directions it swapped while pending since the last block
    legs: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)
    held: list[tuple[EnrichedTx, list[Hop], list[Detection]]] = field(default_factory=list)
    clock_ms: int = 0
    max_held: int = MAX_HELD

    def on_swap(
        self, etx: EnrichedTx, hops: list[Hop], found: list[Detection], now_ms: int
    ) -> list[Detection]:
        for hop in hops:
            key = (etx.tx.sender, hop.pool)
            self.legs.setdefault(key, set()).add((hop.token_in, hop.token_out))
        if len(self.legs) > self.max_held:  # no block for long: forget the earliest senders
            del self.legs[next(iter(self.legs))]
        self.clock_ms = max(self.clock_ms, etx.tx.first_seen_ms)
        if found:
            self.held.append((etx, hops, found))
        return self._release(now_ms, everything=len(self.held) > self.max_held)

    def on_block(self, now_ms: int) -> list[Detection]:
        out = self._release(now_ms, everything=True)
        self.legs.clear()
        return out

    def round_trip(self, etx: EnrichedTx, hops: list[Hop]) -> bool:
        sender = etx.tx.sender
        return any(
            (hop.token_out, hop.token_in) in self.legs.get((sender, hop.pool), ()) for hop in hops
        )

    def _release(self, now_ms: int, everything: bool = False) -> list[Detection]:
        out: list[Detection] = []
        keep = []
        for etx, hops, found in self.held:
            if not everything and etx.tx.first_seen_ms + self.hold_ms > self.clock_ms:
                keep.append((etx, hops, found))
            elif not self.round_trip(etx, hops):
                out += [msgspec.structs.replace(d, detected_ms=now_ms) for d in found]
        self.held = keep
        return out


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
