"""Normalize + enrich throughput (tx/s per worker) on the bundled sample: the figure README quotes.

Usage: ``python bench/bench_normalize_enrich.py [--seconds 5]``

Two figures: (1) the two pure steps in a plain loop over the sample's tx and call items (the
per-worker ceiling; CPU time, so other load on a shared machine counts less), and (2) the flow's
own normalize and enrich stages (``flows.steps.normalize``) in a one-worker bytewax flow, wall time, which
adds the engine's per-item cost. The flow counts its output once per batch, so that the figure
is about the two stages, not about a per-item counting step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import BranchOut
from bytewax.testing import TestingSink, TestingSource, run_main

from bench.bench_normalize import DEFAULT_SAMPLE, load_items
from flows.config import EnrichConfig
from flows.steps.checked import is_tx, split
from flows.steps.normalize import enrich_stage, normalize_stage
from operators.enrich import enrich
from operators.normalize import normalize_item
from operators.records import Block, RawItem, Tx


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--flow-repeat", type=int, default=10)
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


if __name__ == "__main__":
    main()
