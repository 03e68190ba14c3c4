"""Normalize throughput (tx/s) on the bundled sample's tx and call items, in one process.

Usage: ``python bench/bench_normalize.py [--sample PATH] [--seconds 5]``

Reads the sample once, encodes each payload to bytes as a source would, then normalizes the
items in a loop (no bytewax) for at least ``--seconds`` and prints items per second. Every item
must come out as a ``Tx``: a dead letter here means the figure is not about the happy path.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

from operators.normalize import normalize_item
from operators.records import RawItem, Tx

DEFAULT_SAMPLE = Path(__file__).resolve().parents[1] / "connectors" / "sample" / "mainnet.jsonl.gz"


def load_items(path: Path, kinds: tuple[str, ...]) -> list[RawItem]:
    items = []
    with gzip.open(path, "rb") as lines:
        for line in lines:
            record = json.loads(line)
            if record["kind"] in kinds:
                payload = json.dumps(record["payload"], separators=(",", ":")).encode()
                items.append(
                    RawItem(
                        record["kind"],
                        record["chain_id"],
                        record["source"],
                        record["seen_ms"],
                        payload,
                    )
                )
    return items


def measure(items: list[RawItem], seconds: float) -> list[float]:
    """Items per CPU second of each pass over ``items``, for at least ``seconds`` of CPU time.

    CPU time (not wall time) so that other processes on a shared machine count less; still
    noisy, hence the median and the best pass are both printed.
    """
    rates, spent = [], 0.0
    while spent < seconds:
        start = time.process_time()
        for item in items:
            normalize_item(item)
        elapsed = time.process_time() - start
        spent += elapsed
        rates.append(len(items) / elapsed)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    for kinds in (("tx",), ("call",), ("tx", "call")):
        items = load_items(args.sample, kinds)
        bad = [r for item in items for r in normalize_item(item) if not isinstance(r, Tx)]
        if bad:
            raise SystemExit(f"{len(bad)} items did not normalize, first: {bad[0]}")
        size = sum(len(item.payload) for item in items) / len(items)
        rates = sorted(measure(items, args.seconds))
        median, best = rates[len(rates) // 2], rates[-1]
        print(
            f"normalize {'+'.join(kinds):8s}: median {median:9,.0f} items/s "
            f"({1e6 / median:.2f} us/item), best {best:9,.0f} items/s; "
            f"{len(items)} items, {size:,.0f} B avg payload"
        )


if __name__ == "__main__":
    main()
