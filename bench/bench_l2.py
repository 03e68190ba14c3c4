"""L2 figures: decoded feed txs per second per worker, and blocks per second of the log path.

Usage: ``python -m bench.bench_l2 [--samples ../shared/chain-samples] [--seconds 5]``

1. **Feed decoding**: real frames (tests/data/l2) through the same code a feed partition runs per
   frame: frame → ``operators.l2`` decoder (base64 / brotli, RLP, hash re-derived, sender
   recovered) → ``RawItem`` → the flow's ``normalize_item`` → ``Tx``. Arbitrum: the docs' real
   signed tx, 100 times in one batch message per frame (the feed's own framing). Flashblocks: the
   real 11-tx Base frame, brotli-compressed as Base sends it. One thread: that is one worker's
   share (each feed partition decodes in its own thread; a worker runs one).
2. **Log path**: every mainnet block of the chain samples that comes with its receipts (erigon's
   ``eth_getBlockReceipts`` fixtures), normalized once, then classified from logs
   (``analyze_block_logs``: swaps, liquidations, sandwiches, arbitrages) in a loop.

CPU time per pass, median and best of the passes printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import brotli
from rusty_rlp import decode_raw, encode_raw

from bench.testbed import l2_frames
from operators.l2.arbitrum import decode_feed_frame
from operators.l2.flashblocks import FlashblockDecoder
from operators.mev.block import analyze_block_logs
from operators.normalize import normalize_item
from operators.records import Block, RawItem, Tx
from operators.signed_tx import decode_signed_tx, keccak, recover_address

DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "chain-samples"


def measure(run: Callable[[], int], seconds: float) -> list[float]:
    """Units per CPU second of each pass of ``run`` (which returns its units)."""
    rates, spent = [], 0.0
    while spent < seconds:
        start = time.process_time()
        units = run()
        took = time.process_time() - start
        spent += took
        rates.append(units / took)
    return rates


def to_txs(items: list) -> int:
    count = 0
    for item in items:
        if isinstance(item, RawItem):
            for tx in normalize_item(item):
                assert isinstance(tx, Tx), tx
                count += 1
        else:
            raise AssertionError(f"dead letter in the benchmark: {item}")
    return count


def feed_benchmarks(seconds: float) -> None:
    envelope = l2_frames.signed(l2_frames.arbitrum_signed_tx())
    frames = [
        l2_frames.feed_frame([(25757171 + i, l2_frames.batch(*[envelope] * 100))])
        for i in range(10)
    ]

    def arbitrum() -> int:
        return sum(
            to_txs(decode_feed_frame(f, l2_frames.ARBITRUM_ONE, "bench", 0)[0]) for f in frames
        )

    compressed = brotli.compress(l2_frames.FLASHBLOCK_TXS)
    decoder = FlashblockDecoder(l2_frames.BASE, "bench")

    def flashblocks() -> int:
        return sum(to_txs(decoder.decode(compressed, 0)[1]) for _ in range(100))

    for name, run in (("arbitrum feed", arbitrum), ("flashblocks", flashblocks)):
        rates = measure(run, seconds)
        print(
            f"{name}: decoded txs/s per worker  median {statistics.median(rates):,.0f}"
            f"  best {max(rates):,.0f}  ({len(rates)} passes)"
        )
    # What one sender recovery (libsecp256k1) costs here: the floor of the per-tx time.
    fields = decode_signed_tx(l2_frames.arbitrum_signed_tx())
    body = l2_frames.arbitrum_signed_tx()[1:]
    items, _ = decode_raw(body, True, False)
    signing_hash = keccak(b"\x02" + encode_raw(items[:-3]))
    parity, r, s = int(fields["yParity"], 16), int(fields["r"], 16), int(fields["s"], 16)

    def recoveries() -> int:
        for _ in range(1000):
            recover_address(signing_hash, parity, r, s)
        return 1000

    rates = measure(recoveries, seconds / 2)
    print(f"  of which sender recovery alone: {1e6 / statistics.median(rates):.0f} us per tx")


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

    rates = measure(run, seconds)
    print(
        f"log path: blocks/s  median {statistics.median(rates):,.0f}  best {max(rates):,.0f}"
        f"  ({len(blocks)} mainnet blocks, {logs:,} logs, {swaps} swaps, {findings} findings"
        f" per pass; {len(rates)} passes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    feed_benchmarks(args.seconds)
    log_path_benchmark(args.samples, args.seconds)


if __name__ == "__main__":
    main()
