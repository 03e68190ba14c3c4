"""Back-runs: an arbitrage right after another account's swap, through the pool that swap moved,
the other way (it takes back the price the swap pushed away).

Run on ordered flow where positions are the sequencer's (a Flashblock's txs, a block's), so
"right after" is exact: the arbitrage is at most ``MAX_GAP`` txs behind the swap. The swap's size
is reported (its ``amount_in``) rather than judged: without prices there is no "large" in one
unit across tokens, and any swap a searcher back-runs was large enough for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from operators.mev.arbitrages import Arbitrage
from operators.mev.model import SwapEvent

MAX_GAP = 3


class Backrun(msgspec.Struct, frozen=True):
    target: SwapEvent
    arbitrage: Arbitrage
    leg: SwapEvent  # the arbitrage's swap through the target's pool


def find_backruns(swaps: Sequence[SwapEvent], arbitrages: Sequence[Arbitrage]) -> list[Backrun]:
    found: list[Backrun] = []
    for arb in arbitrages:
        if arb.error is not None:
            continue
        position = arb.swaps[0].tx_position
        for leg in arb.swaps:
            targets = [
                s
                for s in swaps
                if s.pool == leg.pool
                and 0 < position - s.tx_position <= MAX_GAP
                and s.error is None
                and s.token_in == leg.token_out
                and s.token_out == leg.token_in
                and s.sender != arb.account
            ]
            if targets:
                found.append(Backrun(targets[-1], arb, leg))
                break
    return found
