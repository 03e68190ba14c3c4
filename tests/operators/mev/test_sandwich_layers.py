"""Sandwiches with any number of victims and layers: no fixed cap, only deterministic bounds that
are counted when they cut. Built from the real sandwich of mev-inspect-py's block 12775690
(MIT, tests/data/mev/README.md): its frontrun, victim and backrun swaps, repeated at new
positions, make the 67-layer, many-victim shape of Brontes issue #818."""

from __future__ import annotations

import msgspec
from prometheus_client import REGISTRY

from operators.mev.model import SwapEvent
from operators.mev.sandwiches import Bounds, find_sandwiches
from tests.operators.mev.conftest import analysis


def _at(swap: SwapEvent, position: int, who: str | None = None) -> SwapEvent:
    moved = msgspec.structs.replace(swap, tx_hash=f"0x{position:064x}", tx_position=position)
    if who is not None:
        moved = msgspec.structs.replace(moved, sender=who, recipient=who)
    return moved


def _nested(layers: int, victims: int) -> list[SwapEvent]:
    [real] = analysis(12775690).sandwiches
    front, back, victim = real.frontrun, real.backrun, real.victims[0]
    swaps = []
    for i in range(layers):
        who = f"0x{i + 1:040x}"
        swaps.append(_at(front, i, who))
        swaps.append(_at(back, 2 * layers + victims - i, who))
    swaps += [_at(victim, layers + j, f"0x{10_000 + j:040x}") for j in range(victims)]
    return swaps


def _cuts() -> float:
    return REGISTRY.get_sample_value("scorpius_mev_bound_cuts_total", {"kind": "sandwich"}) or 0.0


def test_sixty_seven_layers_with_forty_victims_are_all_found() -> None:
    found = find_sandwiches(_nested(67, 40))
    assert len(found) == 67
    by_layer = sorted(found, key=lambda s: s.layer)
    assert [s.layer for s in by_layer] == list(range(67))
    # The outermost has every inner frontrun and all 40 victims as its victims.
    assert len(by_layer[0].victims) == 66 + 40
    assert len(by_layer[-1].victims) == 40
    assert not any(s.cut for s in found)


def test_the_victim_bound_cuts_and_counts() -> None:
    before = _cuts()
    [sandwich] = find_sandwiches(_nested(1, 30), Bounds(max_victims=10))
    assert (len(sandwich.victims), sandwich.cut) == (10, True)
    assert _cuts() == before + 1


def test_the_comparison_budget_cuts_and_counts() -> None:
    before = _cuts()
    found = find_sandwiches(_nested(5, 10), Bounds(max_comparisons=25))
    assert len(found) < 5
    assert _cuts() > before
