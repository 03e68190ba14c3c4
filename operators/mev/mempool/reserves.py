"""Pool reserves as of the newest block the flow has seen on a chain, fetched once per pool.

The sandwichable-victim check quotes pending swaps from V2 reserves. Reserves change only when a
block lands, so one chain's lookups share a cache that a new block empties: each pool is fetched
at most once per block, however many pending swaps trade on it. Fetching is injected (the RPC
connector's ``getReserves`` eth_call), which keeps this pure.

The cache is bounded (operators/LIMITS.md): without blocks arriving it would grow with every pool
a pending swap names, and swaps name any token pair a sender likes. Over ``max_pools`` the
earliest-fetched pool is forgotten (``scorpius_state_evictions{stage="quote"}``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from operators.metrics import STATE_EVICTIONS

# fetch(chain_id, pool, block number or None for "latest") -> (reserve0, reserve1) | None (no pair)
FetchReserves = Callable[[int, str, "int | None"], "tuple[int, int] | None"]


# Pools cached per chain between two blocks (config detect.reserves_max_pools).
MAX_POOLS = 10_000


class ReservesUnavailable(Exception):
    """The node could not be asked (down, timed out, answered an error): no quote, not "no pool"."""


@dataclass
class ReservesAtHead:
    """One chain's head block and the reserves fetched at it (None: no V2 pair there)."""

    head: int | None = None
    cache: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    max_pools: int = MAX_POOLS

    def on_block(self, number: int) -> None:
        if self.head is None or number > self.head:
            self.head = number
            self.cache.clear()

    def lookup(self, fetch: FetchReserves) -> Callable[[int, str], tuple[int, int] | None]:
        """The ``reserves(chain_id, pool)`` a ``SandwichableVictimDetector`` takes."""

        def reserves(chain_id: int, pool: str) -> tuple[int, int] | None:
            if pool not in self.cache:
                # Before the first block arrives the node's latest state is the best there is;
                # ReservesUnavailable propagates uncached, so the next tx asks again.
                self.cache[pool] = fetch(chain_id, pool, self.head)
                if len(self.cache) > self.max_pools:
                    del self.cache[next(iter(self.cache))]
                    STATE_EVICTIONS.labels("quote", "max_pools").inc()
            return self.cache[pool]

        return reserves
