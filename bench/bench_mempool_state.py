"""CPU per pending tx of each mempool window's detector as its state fills: the cost of a tx
must follow what the tx touches, not how much the window holds.

The load is the soak's (``bench.bench_soak``: V2 router swaps over 10,000 pools from 100,000
senders), normalized and enriched as the flow does. Each detector is keyed as the flow keys its
window (sandwich attempts per chain, frontrun copies per target bucket, replacements per sender
bucket); the windows are filled with ``fill`` txs, then the next ``--measure`` txs are timed (CPU
time, best of 3), so a figure is the cost of one tx arriving at a window that already holds that
many.

    python -m bench.bench_mempool_state [--fills 1000 10000 40000] [--measure 2000]
"""

from __future__ import annotations

import argparse
import copy
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.bench_soak import Soak, pool_calldata
from operators.enrich import enrich
from operators.mev.mempool import FrontrunCopyDetector, SandwichAttemptDetector
from operators.mev.mempool.frontrun import window_key as frontrun_key
from operators.mev.mempool.sandwich_attempt import window_key as sandwich_key
from operators.normalize import normalize_item
from operators.records import EnrichedTx, RawItem, Tx
from operators.replacement import SenderBucket, sender_key


def soak_txs(count: int) -> list[EnrichedTx]:
    soak = Soak(count, 1000.0, 100_000, pool_calldata(10_000), 1_700_000_000_000, Path())
    nonces, rng = [0] * soak.senders, random.Random(1)
    out: list[EnrichedTx] = []
    for i in range(count):
        payload, tx_hash = soak.payload(i, nonces, rng)
        item = RawItem("tx", 1, "bench:soak", soak.start_ms + i, payload, tx_hash)
        out.extend(enrich(tx) for tx in normalize_item(item) if isinstance(tx, Tx))
    return out


Windows = dict[str, Any]


def keyed(
    name: str, key: Callable[[EnrichedTx], str], new: Callable[[], Any]
) -> tuple[str, Callable[[Windows, EnrichedTx], object]]:
    def step(windows: Windows, etx: EnrichedTx) -> object:
        k = key(etx)
        detector = windows.get(k)
        if detector is None:
            detector = windows[k] = new()
        return detector.on_tx(etx, etx.tx.first_seen_ms)

    return name, step


DETECTORS = [
    keyed("sandwich_attempt", sandwich_key, SandwichAttemptDetector),
    keyed("frontrun_copy", frontrun_key, FrontrunCopyDetector),
    keyed("replacement", sender_key, SenderBucket),
]


def cost_us(
    step: Callable[[Windows, EnrichedTx], object],
    fill: Sequence[EnrichedTx],
    timed: Sequence[EnrichedTx],
) -> float:
    windows: Windows = {}
    for etx in fill:
        step(windows, etx)
    best = float("inf")
    for _ in range(3):
        trial = copy.deepcopy(windows)
        start = time.process_time()
        for etx in timed:
            step(trial, etx)
        best = min(best, time.process_time() - start)
    return best / len(timed) * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, nargs="+", default=[1_000, 10_000, 40_000])
    parser.add_argument("--measure", type=int, default=2_000)
    args = parser.parse_args(argv)
    txs = soak_txs(max(args.fills) + args.measure)
    print(f"CPU us per pending tx, best of 3, {args.measure:,} txs timed after the fill")
    print(f"{'detector':<18}" + "".join(f"{f'fill {f:,}':>14}" for f in args.fills))
    for name, step in DETECTORS:
        row = [cost_us(step, txs[:fill], txs[fill : fill + args.measure]) for fill in args.fills]
        print(f"{name:<18}" + "".join(f"{us:>14.1f}" for us in row), flush=True)


if __name__ == "__main__":
    main()
