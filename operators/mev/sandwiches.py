"""Sandwiches in one block: a searcher's swap, victims' swaps the same way on the same pool, then
the searcher's swap back.

The frontrun pays out to the sandwicher (a router is never one, nor a pool: a multi-hop swap pays
its first hop to the next pool, and two such swaps crossing one pool are not a sandwich); victims swap in the frontrun's
direction from other addresses; the backrun comes from the sandwicher and swaps the reverse
way. The profit is what the backrun returned minus what the frontrun paid, in the frontrun's
input token. Reverted swaps moved nothing and take no part.

There is no cap on victims or layers (a sandwich inside another on the same pool is the inner
one's victim and a finding of its own; ``layers`` tells how deep each sits). What bounds the
work is ``Bounds``: victims kept per sandwich (memory) and swap comparisons per block (time, and
deterministic, so a re-run finds the same); a finding a bound cut short is still reported, with
``cut`` set, and counted in ``scorpius_mev_bound_cuts``.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from operators.metrics import MEV_BOUND_CUTS
from operators.mev.model import SwapEvent, block_position
from operators.mev.protocols.uniswap import ROUTERS


class Bounds(msgspec.Struct, frozen=True):
    max_victims: int = 100_000
    max_comparisons: int = 20_000_000


class Sandwich(msgspec.Struct, frozen=True):
    sandwicher: str
    frontrun: SwapEvent
    victims: tuple[SwapEvent, ...]
    backrun: SwapEvent
    # How many other sandwiches on the same pool enclose this one (0: outermost).
    layer: int = 0
    # A bound (``Bounds``) cut the victims short.
    cut: bool = False

    @property
    def profit_token(self) -> str:
        return self.frontrun.token_in

    @property
    def profit_amount(self) -> int:
        return self.backrun.amount_out - self.frontrun.amount_in


class _Budget:
    def __init__(self, comparisons: int) -> None:
        self.left = comparisons

    def spend(self, n: int) -> int:
        """Up to ``n`` comparisons; how many may be made."""
        granted = min(n, self.left)
        self.left -= granted
        return granted


def _sandwich_from(
    front: SwapEvent,
    later: Sequence[SwapEvent],
    bounds: Bounds,
    budget: _Budget,
) -> Sandwich | None:
    sandwicher = front.recipient
    if sandwicher in ROUTERS:
        return None
    victims: list[SwapEvent] = []
    cut = False
    allowed = budget.spend(len(later))
    for swap in later[:allowed]:
        if swap.tx_hash == front.tx_hash or swap.pool != front.pool:
            continue
        same_way = swap.token_in == front.token_in and swap.token_out == front.token_out
        reverse = swap.token_in == front.token_out and swap.token_out == front.token_in
        if same_way and swap.sender != sandwicher:
            if len(victims) < bounds.max_victims:
                victims.append(swap)
            else:
                cut = True
        elif reverse and swap.sender == sandwicher and victims:
            if cut:
                MEV_BOUND_CUTS.labels("sandwich").inc()
            return Sandwich(sandwicher, front, tuple(victims), swap, cut=cut)
    if allowed < len(later):
        MEV_BOUND_CUTS.labels("sandwich").inc()  # the block's comparison budget ran out
    return None


def _with_layers(found: list[Sandwich]) -> list[Sandwich]:
    return [
        msgspec.structs.replace(
            inner,
            layer=sum(
                outer is not inner
                and outer.frontrun.pool == inner.frontrun.pool
                and block_position(outer.frontrun) < block_position(inner.frontrun)
                and block_position(inner.backrun) < block_position(outer.backrun)
                for outer in found
            ),
        )
        for inner in found
    ]


def find_sandwiches(swaps: Sequence[SwapEvent], bounds: Bounds = Bounds()) -> list[Sandwich]:
    """``swaps`` of one block; each swap is tried as a frontrun against the swaps after it."""
    ordered = sorted((s for s in swaps if s.error is None), key=block_position)
    pools = frozenset(s.pool for s in swaps)
    budget = _Budget(bounds.max_comparisons)
    found = []
    for index, front in enumerate(ordered):
        sandwich = _sandwich_from(front, ordered[index + 1 :], bounds, budget)
        if sandwich is not None:
            found.append(sandwich)
    return _with_layers(_without_pool_artifacts(found, pools))


def _without_pool_artifacts(found: list[Sandwich], pools: frozenset[str]) -> list[Sandwich]:
    """A pool "sandwicher" is a multi-hop route's middle hop, not a searcher. Its shape is kept
    only where the same two txs also sandwich for a real account (a searcher's multi-hop
    sandwich, which mev-inspect-py reports once per pool, as in block 12914944); two unrelated
    users' multi-hop swaps through one pool are not a sandwich."""
    real = {(s.frontrun.tx_hash, s.backrun.tx_hash) for s in found if s.sandwicher not in pools}
    return [
        s
        for s in found
        if s.sandwicher not in pools or (s.frontrun.tx_hash, s.backrun.tx_hash) in real
    ]
