"""MEV detection throughput on one worker (one thread): blocks/s and traces/s for block detection
over the bundled mainnet blocks, pending tx/s for the three mempool detectors, pending swaps/s
for quoting (``Swap.quote``), detections/s for the prediction link.

    python bench/bench_mev.py [--rounds N]

Blocks are loaded before timing (parsing JSON is the source's cost, not the detector's). The
mempool stream is the blocks' top-level calls replayed in block order as pending txs (router
swaps decoded); each block's txs form one window, as a per-block event-time window would, and
reserves come from an in-memory table (the RPC lookup is the connector's cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.testbed import replayed
from operators.mev import detect_block
from operators.mev.fixtures import load_block
from operators.mev.mempool import (
    FrontrunCopyDetector,
    SandwichableVictimDetector,
    SandwichAttemptDetector,
    frontrun,
)
from operators.mev.mempool.predictions import SandwichPredictions
from operators.records import Block, Detection, EnrichedTx

BLOCKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "mev" / "blocks"


def _reserves(chain_id: int, pool: str) -> tuple[int, int]:
    return 10**24, 10**24


def bench_blocks(blocks: list[Block], rounds: int) -> tuple[float, float, int]:
    traces = sum(len(b.traces) for b in blocks)
    findings = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for block in blocks:
            findings += len(detect_block(block))
    elapsed = time.perf_counter() - started
    return rounds * len(blocks) / elapsed, rounds * traces / elapsed, findings // rounds


def bench_mempool(windows: list[list[EnrichedTx]], rounds: int) -> tuple[float, int]:
    count = sum(len(w) for w in windows)
    findings = 0
    started = time.perf_counter()
    for _ in range(rounds):
        sandwichable = SandwichableVictimDetector(_reserves)
        for window in windows:
            attempts = SandwichAttemptDetector()
            copies: dict[str, FrontrunCopyDetector] = {}
            for etx in window:
                findings += len(attempts.on_tx(etx))
                findings += len(sandwichable.on_tx(etx))
                key = frontrun.window_key(etx)
                findings += len(copies.setdefault(key, FrontrunCopyDetector()).on_tx(etx))
    elapsed = time.perf_counter() - started
    return rounds * count / elapsed, findings // rounds


def bench_quotes(windows: list[list[EnrichedTx]], rounds: int) -> tuple[float, int]:
    swaps = [etx for window in windows for etx in window if etx.swaps]
    detector = SandwichableVictimDetector(_reserves)
    started = time.perf_counter()
    for _ in range(rounds):
        for etx in swaps:
            detector.quoted(etx)
    return rounds * len(swaps) / (time.perf_counter() - started), len(swaps)


def bench_links(
    blocks: list[Block], windows: list[list[EnrichedTx]], rounds: int
) -> tuple[float, int, int]:
    """Each block's mempool alerts, then its detections, through one chain's linker."""
    stream: list[Detection] = []
    for block, window in zip(blocks, windows, strict=True):
        attempts = SandwichAttemptDetector()
        sandwichable = SandwichableVictimDetector(_reserves)
        for etx in window:
            stream += attempts.on_tx(etx) + sandwichable.on_tx(etx)
        stream += detect_block(block)
    links = 0
    started = time.perf_counter()
    for _ in range(rounds):
        linker = SandwichPredictions()
        for detection in stream:
            links += len(linker.on_detection(detection))
    elapsed = time.perf_counter() - started
    return rounds * len(stream) / elapsed, len(stream), links // rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    blocks = [load_block(str(p)) for p in sorted(BLOCKS.glob("*.json.gz"))]
    windows = [
        replayed([t for t in b.traces if t.trace_address == () and t.tx_hash], b.timestamp * 1000)
        for b in blocks
    ]
    blocks_s, traces_s, findings = bench_blocks(blocks, args.rounds)
    print(
        f"block detection: {blocks_s:.1f} blocks/s, {traces_s:,.0f} traces/s "
        f"({len(blocks)} blocks, {sum(len(b.traces) for b in blocks)} traces, "
        f"{findings} findings, {args.rounds} rounds, 1 worker)"
    )
    tx_s, mempool_findings = bench_mempool(windows, args.rounds)
    print(
        f"mempool detection: {tx_s:,.0f} tx/s ({sum(len(w) for w in windows)} pending txs, "
        f"{mempool_findings} findings, 3 detectors, 1 worker)"
    )
    quotes_s, swaps = bench_quotes(windows, args.rounds)
    print(f"quotes: {quotes_s:,.0f} pending swaps/s ({swaps} swaps, reserves in memory, 1 worker)")
    links_s, stream, links = bench_links(blocks, windows, args.rounds)
    print(
        f"prediction link: {links_s:,.0f} detections/s ({stream} detections, {links} links, "
        "1 worker)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
