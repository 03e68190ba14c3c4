"""Sandwiches in one block: a searcher's swap, victims' swaps the same way on the same pool, then
the searcher's swap back.

The frontrun pays out to the sandwicher (a router is never one, nor a pool: a multi-hop swap pays
its first hop to the next pool, and two such swaps crossing one pool are not a sandwich); victims swap in the frontrun's
direction from other addresses; the backrun comes from the sandwicher and swaps the reverse
way. The profit is what the backrun returned minus what the frontrun paid, in the frontrun's
input token. Reverted swaps moved nothing and take no part.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from operators.mev.model import SwapEvent
from operators.mev.protocols.uniswap import ROUTERS


class Sandwich(msgspec.Struct, frozen=True):
    sandwicher: str
    frontrun: SwapEvent
    victims: tuple[SwapEvent, ...]
    backrun: SwapEvent

    @property
    def profit_token(self) -> str:
        return self.frontrun.token_in

    @property
    def profit_amount(self) -> int:
        return self.backrun.amount_out - self.frontrun.amount_in


def _sandwich_from(
    front: SwapEvent, later: Sequence[SwapEvent], pools: frozenset[str]
) -> Sandwich | None:
    sandwicher = front.recipient
    if sandwicher in ROUTERS or sandwicher in pools:
        return None
    victims: list[SwapEvent] = []
    for swap in later:
        if swap.tx_hash == front.tx_hash or swap.pool != front.pool:
            continue
        same_way = swap.token_in == front.token_in and swap.token_out == front.token_out
        reverse = swap.token_in == front.token_out and swap.token_out == front.token_in
        if same_way and swap.sender != sandwicher:
            victims.append(swap)
        elif reverse and swap.sender == sandwicher and victims:
            return Sandwich(sandwicher, front, tuple(victims), swap)
    return None


def find_sandwiches(swaps: Sequence[SwapEvent]) -> list[Sandwich]:
    """``swaps`` of one block; each swap is tried as a frontrun against the swaps after it."""
    ordered = sorted(
        (s for s in swaps if s.error is None), key=lambda s: (s.tx_position, s.trace_address)
    )
    pools = frozenset(s.pool for s in swaps)
    found = []
    for index, front in enumerate(ordered):
        sandwich = _sandwich_from(front, ordered[index + 1 :], pools)
        if sandwich is not None:
            found.append(sandwich)
    return found
