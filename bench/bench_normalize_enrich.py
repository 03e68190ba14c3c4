"""Normalize + enrich throughput (tx/s per worker) on the bundled sample: the figure README quotes.

Usage: ``python bench/bench_normalize_enrich.py [--seconds 5] [--swaps 20000]``

Three figures: (1) the two pure steps in a plain loop over the sample's tx and call items (the
per-worker ceiling; CPU time, so other load on a shared machine counts less), (2) the flow's
own normalize and enrich stages (``flows.steps.normalize``) in a one-worker bytewax flow, wall time, which
adds the engine's per-item cost. The flow counts its output once per batch, so that the figure
is about the two stages, not about a per-item counting step. (3) Per-stage CPU time per tx on
the soak's load (``bench.bench_soak``: every tx a V2 router swap that decodes and prices):
normalize, enrich (and its ABI decode alone), the pools of the swap (warm memo, as the detectors
and the quote step ask), the archive's row and routing key, and the dead-letter tally per letter.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import BranchOut
from bytewax.testing import TestingSink, TestingSource, run_main

from bench.bench_normalize import DEFAULT_SAMPLE, load_items
from bench.bench_soak import Soak, pool_calldata
from connectors.archive_tables import routing_key, tx_row
from flows.config import EnrichConfig
from flows.steps.checked import is_tx, split
from flows.steps.normalize import enrich_stage, normalize_stage
from flows.steps.tally import count_dead_letters
from operators.enrich import DEFAULT_ENRICHER, enrich
from operators.mev.pools import BUNDLED
from operators.normalize import normalize_item
from operators.records import Block, DeadLetter, EnrichedTx, RawItem, Tx


def loop_rates(items: list[RawItem], seconds: float) -> list[float]:
    rates, spent = [], 0.0
    while spent < seconds:
        start = time.process_time()
        for item in items:
            for tx in normalize_item(item):
                if isinstance(tx, Tx):
                    enrich(tx)
        elapsed = time.process_time() - start
        spent += elapsed
        rates.append(len(items) / elapsed)
    return rates


def flow_rate(items: list[RawItem], repeat: int) -> float:
    flow = Dataflow("bench_normalize_enrich")
    stream = op.input("in", flow, TestingSource(items * repeat, batch_size=1024))
    norm = normalize_stage("normalize", stream)
    normalized: BranchOut[Tx, Block] = split("is_tx", norm.oks, is_tx)
    enriched = enrich_stage("enrich", normalized.trues, EnrichConfig())
    counted = op.flat_map_batch("count", enriched, lambda batch: [len(batch)])
    out: list[int] = []
    op.output("out", counted, TestingSink(out))
    start = time.perf_counter()
    run_main(flow)
    elapsed = time.perf_counter() - start
    assert sum(out) == len(items) * repeat, "every item must come out enriched"
    return len(items) * repeat / elapsed


def swap_items(count: int) -> list[RawItem]:
    """``count`` pending V2 router swaps as the soak generates them (10,000 pools)."""
    soak = Soak(count, 1000.0, 100_000, pool_calldata(10_000), 1_700_000_000_000, Path())
    nonces, rng = [0] * soak.senders, random.Random(1)
    items = []
    for i in range(count):
        payload, tx_hash = soak.payload(i, nonces, rng)
        items.append(RawItem("tx", 1, "bench:soak", soak.start_ms + i, payload, tx_hash))
    return items


def cpu_us(step: Callable[[Any], object], inputs: Sequence[Any], rounds: int = 5) -> float:
    """Best of ``rounds`` CPU time of ``step`` over ``inputs``, in microseconds per input."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for value in inputs:
            step(value)
        best = min(best, time.process_time() - start)
    return best / len(inputs) * 1e6


def swap_stage_costs(count: int) -> list[tuple[str, float]]:
    """(stage, CPU microseconds per tx) on the soak's router swaps."""
    items = swap_items(count)
    txs = [record for item in items for record in normalize_item(item) if isinstance(record, Tx)]
    enriched = [enrich(tx) for tx in txs]
    assert len(txs) == count and all(e.swaps for e in enriched), "every item must be a swap"
    method = DEFAULT_ENRICHER.method(txs[0].selector)
    assert method is not None
    arguments = [bytes.fromhex(tx.input[10:]) for tx in txs]
    swaps = [etx.swaps[0] for etx in enriched]
    for swap in swaps:
        BUNDLED.hops(1, swap)  # warm: the detectors, the quote step and the windows ask again
    letter = DeadLetter("window", "late (behind a window's watermark): 5 ms", "{}", "bench", 1)
    letters = [[letter] * 1000] * max(1, count // 1000)
    tally = _dead_letter_tally()

    def archived(etx: EnrichedTx) -> None:
        tx_row(etx)
        routing_key(etx)

    return [
        ("normalize", cpu_us(normalize_item, items)),
        ("enrich", cpu_us(enrich, txs)),
        ("  of which ABI decode", cpu_us(method.decode, arguments)),
        ("pools of the swap (warm)", cpu_us(lambda swap: BUNDLED.hops(1, swap), swaps)),
        ("archive row + routing key", cpu_us(archived, enriched)),
        ("dead-letter tally, per letter", cpu_us(tally, letters) / 1000),
    ]


def _dead_letter_tally() -> Callable[[list[DeadLetter]], object]:
    """The flow's dead-letter tally (the batch function of ``count_dead_letters``)."""
    flow = Dataflow("bench_tally")
    count_dead_letters("count", op.input("in", flow, TestingSource([])))
    step = flow.substeps[-1].substeps[-1]  # count -> its flat_map_batch("tally", ...)
    return step.mapper  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--flow-repeat", type=int, default=10)
    parser.add_argument("--swaps", type=int, default=20_000, help="router swaps for (3); 0: skip")
    args = parser.parse_args()
    for kinds, label in (
        (("tx",), "tx (full tx objects)"),
        (("tx", "call"), "tx + call (whole sample)"),
    ):
        items = load_items(args.sample, kinds)
        rates = loop_rates(items, args.seconds)
        print(
            f"normalize+enrich, plain loop, {label}: {len(items):,} items, "
            f"median {statistics.median(rates):,.0f} tx/s, best {max(rates):,.0f} tx/s (CPU time)"
        )
    items = load_items(args.sample, ("tx", "call"))
    rate = flow_rate(items, args.flow_repeat)
    print(
        f"normalize+enrich stages, bytewax 1 worker, tx + call: "
        f"{len(items) * args.flow_repeat:,} items, "
        f"{rate:,.0f} tx/s (wall time)"
    )
    if args.swaps:
        print(f"per stage, {args.swaps:,} V2 router swaps (the soak's load), CPU time per tx:")
        for stage, micros in swap_stage_costs(args.swaps):
            print(f"  {stage:32s} {micros:7.2f} us")


if __name__ == "__main__":
    main()
