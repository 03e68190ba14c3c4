"""Pool reserves as of the newest block the flow has seen on a chain, fetched once per pool.

The sandwichable-victim check quotes pending swaps from V2 reserves. Reserves change only when a
block lands, so one chain's lookups share a cache that a new block empties: each pool is fetched
at most once per block, however many pending swaps trade on it. Fetching is injected (the RPC
connector's ``getReserves`` eth_call), which keeps this pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# fetch(chain_id, pool, block number or None for "latest") -> (reserve0, reserve1) | None (no pair)
FetchReserves = Callable[[int, str, "int | None"], "tuple[int, int] | None"]


class ReservesUnavailable(Exception):
    """The node could not be asked (down, timed out, answered an error): no quote, not "no pool"."""


@dataclass
class ReservesAtHead:
    """One chain's head block and the reserves fetched at it (None: no V2 pair there)."""

    head: int | None = None
    cache: dict[str, tuple[int, int] | None] = field(default_factory=dict)

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
            return self.cache[pool]

        return reserves
