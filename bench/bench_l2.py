"""L2 figures: decoded feed txs per second per worker, and blocks per second of the log path.

Usage: ``python -m bench.bench_l2 [--samples ../shared/chain-samples] [--seconds 5] [--threads N]``

1. **Feed decoding**: real frames (tests/data/l2) through the same code a feed partition runs per
   frame: frame → ``operators.l2`` decoder (base64 / brotli, RLP, hash re-derived, sender
   recovered) → ``RawItem`` → the flow's ``normalize_item`` → ``Tx``. Arbitrum: the docs' real
   l2_frames.signed tx, 100 times in one l2_frames.batch message per frame (the feed's own framing). Flashblocks: the
   real 11-tx Base frame, brotli-compressed as Base sends it. Each is measured:
   - **one thread**, CPU time: one worker's share (a feed partition decodes in its thread);
     to ``Tx`` (with the flow's normalizer) and to ``RawItem`` (what the source partition
     itself does; the normalizer is the flow's next step);
   - **without sender recovery**, CPU time: the same with the secp256k1 recovery left out (a
     fixed sender), i.e. what everything else costs;
   - **recovery on a pool of N threads** inside the one worker (``SenderRecovery``; the
     libsecp256k1 call runs without the GIL), wall-clock time, next to one thread's wall-clock
     rate measured in the same passes: only meaningful on idle cores.
2. **Log path**: every mainnet block of the chain samples that comes with its receipts (erigon's
   ``eth_getBlockReceipts`` fixtures), normalized once, then classified from logs
   (``analyze_block_logs``: swaps, liquidations, sandwiches, arbitrages) in a loop.

Median and best of the passes printed (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli

from bench.testbed import l2_frames
from operators.l2.arbitrum import decode_feed_frame
from operators.l2.flashblocks import FlashblockDecoder
from operators.l2.items import INLINE, SenderRecovery
from operators.mev.block import analyze_block_logs
from operators.normalize import normalize_item
from operators.records import Block, DeadLetter, RawItem, Tx
from operators.signed_tx import BadTx, Signature, decode_unsigned, recover_address

DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "chain-samples"


def once(run: Callable[[], int], clock: Callable[[], float]) -> tuple[float, float]:
    """(units per second of ``clock``, seconds taken) of one pass of ``run``, which returns
    its units."""
    start = clock()
    units = run()
    took = clock() - start
    return units / took, took


def cpu_rates(run: Callable[[], int], seconds: float) -> list[float]:
    """Units per CPU second of each pass, until the passes have spent ``seconds`` of CPU."""
    rates: list[float] = []
    spent = 0.0
    while spent < seconds:
        rate, took = once(run, time.process_time)
        rates.append(rate)
        spent += took
    return rates


def figures(rates: list[float]) -> str:
    return f"median {statistics.median(rates):>7,.0f}  best {max(rates):>7,.0f}"


def to_txs(items: list[RawItem | DeadLetter]) -> int:
    count = 0
    for item in items:
        if isinstance(item, RawItem):
            for tx in normalize_item(item):
                assert isinstance(tx, Tx), tx
                count += 1
        else:
            raise AssertionError(f"dead letter in the benchmark: {item}")
    return count


def items(items: list[RawItem | DeadLetter]) -> int:
    assert all(isinstance(item, RawItem) for item in items), items
    return len(items)


Count = Callable[[list[RawItem | DeadLetter]], int]


class FixedSender(SenderRecovery):
    """Leaves the secp256k1 recovery out: every sender is the zero address."""

    def recover(self, signatures: list[Signature]) -> list[str | BadTx]:
        return ["0x" + "00" * 20] * len(signatures)


def feed_benchmarks(seconds: float, threads: int) -> None:
    envelope = l2_frames.signed(l2_frames.arbitrum_signed_tx())
    frames = [
        l2_frames.feed_frame([(25757171 + i, l2_frames.batch(*[envelope] * 100))])
        for i in range(10)
    ]
    compressed = brotli.compress(l2_frames.FLASHBLOCK_TXS)
    decoder = FlashblockDecoder(l2_frames.BASE, "bench")

    def arbitrum(recovery: SenderRecovery, count: Count = to_txs) -> Callable[[], int]:
        def run() -> int:
            return sum(
                count(decode_feed_frame(f, l2_frames.ARBITRUM_ONE, "bench", 0, recovery)[0])
                for f in frames
            )

        return run

    def flashblocks(recovery: SenderRecovery, count: Count = to_txs) -> Callable[[], int]:
        def run() -> int:
            return sum(count(decoder.decode(compressed, 0, recovery)[1]) for _ in range(100))

        return run

    def line(what: str, rates: list[float]) -> None:
        print(f"  {what:<48} {figures(rates)}")

    with ThreadPoolExecutor(threads) as pool:
        pooled = SenderRecovery(pool, threads)
        for name, make in (("arbitrum feed", arbitrum), ("flashblocks", flashblocks)):
            print(f"{name}: decoded txs/s per worker")
            line("frame -> Tx, one thread (CPU time)", cpu_rates(make(INLINE), seconds))
            line(
                "frame -> RawItem (the source's share, CPU)",
                cpu_rates(make(INLINE, items), seconds),
            )
            line(
                "frame -> Tx without sender recovery (CPU)", cpu_rates(make(FixedSender()), seconds)
            )
            line(
                "frame -> RawItem without sender recovery (CPU)",
                cpu_rates(make(FixedSender(), items), seconds),
            )
            inline_wall: list[float] = []
            pool_wall: list[float] = []
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:  # interleaved passes: both see the same load
                inline_wall.append(once(make(INLINE), time.perf_counter)[0])
                pool_wall.append(once(make(pooled), time.perf_counter)[0])
            line("frame -> Tx, one thread (wall clock)", inline_wall)
            line(f"frame -> Tx, recovery on {threads} threads (wall clock)", pool_wall)
    # What one sender recovery (libsecp256k1 through coincurve) costs here.
    _, signature = decode_unsigned(l2_frames.arbitrum_signed_tx())
    assert signature is not None

    def recoveries() -> int:
        for _ in range(1000):
            recover_address(*signature)
        return 1000

    rates = cpu_rates(recoveries, seconds / 2)
    print(
        f"  sender recovery alone: {1e6 / statistics.median(rates):.0f} us per tx median,"
        f" {1e6 / max(rates):.0f} best"
    )


def sample_blocks(samples: Path) -> list[Block]:
    blocks: list[Block] = []
    for path in sorted(
        samples.glob("erigontech-rpc-tests/integration/mainnet/eth_getBlockReceipts/*.json")
    ):
        for exchange in json.loads(path.read_text()):
            receipts = (exchange.get("response") or {}).get("result")
            if not receipts or not any(r.get("logs") for r in receipts):
                continue
            header = {
                "number": receipts[0]["blockNumber"],
                "hash": receipts[0]["blockHash"],
                "timestamp": "0x0",
            }
            payload = json.dumps({"block": header, "receipts": receipts}).encode()
            out = normalize_item(RawItem("block", 1, "bench", 0, payload))
            blocks.extend(b for b in out if isinstance(b, Block))
    return blocks


def log_path_benchmark(samples: Path, seconds: float) -> None:
    blocks = sample_blocks(samples)
    if not blocks:
        raise SystemExit(f"no blocks with receipts under {samples}")
    found = [analyze_block_logs(b) for b in blocks]
    swaps = sum(len(a.swaps) for a in found)
    findings = sum(len(a.sandwiches) + len(a.arbitrages) + len(a.liquidations) for a in found)
    logs = sum(len(r.logs) for b in blocks for r in b.receipts)

    def run() -> int:
        for block in blocks:
            analyze_block_logs(block)
        return len(blocks)

    rates = cpu_rates(run, seconds)
    print(
        f"log path: blocks/s  median {statistics.median(rates):,.0f}  best {max(rates):,.0f}"
        f"  ({len(blocks)} mainnet blocks, {logs:,} logs, {swaps} swaps, {findings} findings"
        f" per pass; {len(rates)} passes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    usable = len(os.sched_getaffinity(0))
    print(
        f"machine: {os.cpu_count()} cores ({usable} usable by this process); load average"
        f" {os.getloadavg()[0]:.1f}"
    )
    feed_benchmarks(args.seconds, args.threads)
    log_path_benchmark(args.samples, args.seconds)


if __name__ == "__main__":
    main()
