"""The counting taps: per-batch tallies count every item under its own labels."""

from __future__ import annotations

from collections import Counter

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from prometheus_client import REGISTRY

from flows.steps.tally import count_dead_letters, count_detections
from operators.records import DeadLetter, Detection


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_dead_letters_and_detections_are_counted_per_label_set() -> None:
    letters = [DeadLetter("tally_test_a", f"bad hex in field 'to': {i}", "x") for i in range(7)] + [
        DeadLetter("tally_test_a", "late (behind a window's watermark): 3 ms", "y"),
        DeadLetter("tally_test_b", "no colon here", "z"),
        DeadLetter("tally_test_b", ":", "empty class"),
    ]
    detections = [
        Detection(
            f"k{i}",
            "tally_test_kind",
            chain_id=i % 2 + 1,
            tx_hashes=(),
            first_seen_ms=0,
            detected_ms=0,
        )
        for i in range(5)
    ]
    expected_dead = Counter(
        {
            ("tally_test_a", "bad hex in field 'to'"): 7,
            ("tally_test_a", "late (behind a window's watermark)"): 1,
            ("tally_test_b", "no colon here"): 1,
            ("tally_test_b", "unknown"): 1,
        }
    )
    before = {
        key: _sample("scorpius_dead_letters_total", {"stage": key[0], "reason": key[1]})
        for key in expected_dead
    }
    stage_before = {
        stage: _sample("scorpius_stage_items_total", {"stage": stage, "outcome": "dead_letter"})
        for stage in ("tally_test_a", "tally_test_b")
    }
    chains_before = {
        chain: _sample("scorpius_detections_total", {"kind": "tally_test_kind", "chain": chain})
        for chain in ("1", "2")
    }

    flow = Dataflow("tally_test")
    # Batches of 3 split label sets across batches: counts must add up all the same.
    dead = count_dead_letters("dead", op.input("letters", flow, TestingSource(letters, 3)))
    found = count_detections("found", op.input("found_in", flow, TestingSource(detections, 2)))
    out: list[tuple[str, int]] = []
    op.output("out", op.merge("all", dead, found), TestingSink(out))
    run_main(flow)

    summary: Counter[str] = Counter()
    for name, n in out:
        summary[name] += n
    assert summary == {"dead_lettered": len(letters), "detected": len(detections)}
    for key, n in expected_dead.items():
        labels = {"stage": key[0], "reason": key[1]}
        assert _sample("scorpius_dead_letters_total", labels) - before[key] == n
    for stage, n in (("tally_test_a", 8), ("tally_test_b", 2)):
        labels = {"stage": stage, "outcome": "dead_letter"}
        assert _sample("scorpius_stage_items_total", labels) - stage_before[stage] == n
    for chain, n in (("1", 3), ("2", 2)):
        labels = {"kind": "tally_test_kind", "chain": chain}
        assert _sample("scorpius_detections_total", labels) - chains_before[chain] == n
