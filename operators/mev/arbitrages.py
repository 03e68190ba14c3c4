"""Arbitrages in one block: a transaction's swaps that form a cycle back to the token it started
with, paid back to the account that started it.

Two shapes cover nearly all of them: fully routed (bot -> A/B -> B/C -> C/A -> bot) and hub
(bot -> A/B -> bot -> B/C -> bot -> C/A -> bot). Consecutive swaps are linked when the first's
output token is the second's input and the tokens went from one to the other (pool to pool,
pool to the next swap's sender, or recipient to sender), with amounts within 1% (fees on
transfer). Among candidate routes the shortest wins; a reverted swap makes the arbitrage reverted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import msgspec

from operators.mev.model import SwapEvent, block_position

AMOUNT_TOLERANCE = 0.01


class Arbitrage(msgspec.Struct, frozen=True):
    swaps: tuple[SwapEvent, ...]

    @property
    def account(self) -> str:
        return self.swaps[0].sender

    @property
    def profit_token(self) -> str:
        return self.swaps[0].token_in

    @property
    def start_amount(self) -> int:
        return self.swaps[0].amount_in

    @property
    def end_amount(self) -> int:
        return self.swaps[-1].amount_out

    @property
    def profit_amount(self) -> int:
        return self.end_amount - self.start_amount

    @property
    def error(self) -> str | None:
        errors = [s.error for s in self.swaps if s.error is not None]
        return errors[-1] if errors else None


def _close(a: int, b: int) -> bool:
    if a == b:
        return True
    return abs(a - b) < AMOUNT_TOLERANCE * 0.5 * (a + b)


def _links(out: SwapEvent, into: SwapEvent) -> bool:
    return (
        out.token_out == into.token_in
        and (out.pool == into.sender or out.recipient in (into.pool, into.sender))
        and _close(out.amount_out, into.amount_in)
    )


def _shortest_route(
    start: SwapEvent, ends: Sequence[SwapEvent], swaps: Sequence[SwapEvent]
) -> list[SwapEvent] | None:
    """Breadth-first: the shortest chain start -> ... -> one of ``ends``, ties broken by the
    order of ``swaps`` (call order), intermediate swaps used at most once."""
    middles = [s for s in swaps if s is not start and all(s is not e for e in ends)]
    frontier: list[list[SwapEvent]] = [[start]]
    while frontier:
        next_frontier: list[list[SwapEvent]] = []
        for route in frontier:
            last = route[-1]
            end = next((e for e in ends if _links(last, e)), None)
            if end is not None:
                return [*route, end]
            for swap in middles:
                if all(swap is not r for r in route) and _links(last, swap):
                    next_frontier.append([*route, swap])
        frontier = next_frontier
    return None


def tx_arbitrages(swaps: Sequence[SwapEvent]) -> list[Arbitrage]:
    """Arbitrages among the swaps of one transaction (in call order)."""
    pools = {s.pool for s in swaps}
    candidates: list[tuple[SwapEvent, list[SwapEvent]]] = []
    for start in swaps:
        if start.sender in pools:
            continue
        ends = [
            end
            for end in swaps
            if end is not start
            and end.token_out == start.token_in
            and end.pool != start.pool
            and end.recipient == start.sender
        ]
        if ends:
            candidates.append((start, ends))
    found: list[Arbitrage] = []
    used: list[SwapEvent] = []
    for start, ends in candidates:
        if any(start is u for u in used):
            continue
        route = _shortest_route(start, [e for e in ends if all(e is not u for u in used)], swaps)
        if route is not None:
            found.append(Arbitrage(tuple(route)))
            used.extend(route)
    if len(found) > 1:
        # Hub-shaped cycles can be read from any swap; keep the readings that run forward.
        found = [a for a in found if a.swaps[0].trace_address < a.swaps[-1].trace_address]
    return found


def find_arbitrages(swaps: Sequence[SwapEvent]) -> list[Arbitrage]:
    by_tx: dict[str, list[SwapEvent]] = defaultdict(list)
    for swap in sorted(swaps, key=block_position):
        by_tx[swap.tx_hash].append(swap)
    return [arb for tx_swaps in by_tx.values() for arb in tx_arbitrages(tx_swaps)]
