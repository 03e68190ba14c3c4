"""Enrich throughput on real mainnet transactions, one process (one bytewax worker).

Builds Tx records from every unique chain-1 transaction object in the chain samples (with the
flow's own normalizer, outside the timing: it is measured by its own bench), then times
``operators.enrich.enrich`` over them, repeated to ``--count`` txs. Prints the rate (best of
``--rounds``), the share of txs that reach the ABI decoder (their selector is in the table), and
the kind mix.

    python bench/bench_enrich.py [--samples ../shared/chain-samples] [--count 200000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from operators.enrich import DEFAULT_ENRICHER, enrich
from operators.normalize import Malformed, normalize_tx
from operators.records import Tx

# ../shared beside the repository, as the workspace lays it out.
DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "chain-samples"


def _tx_objects(doc: Any) -> Iterator[dict[str, Any]]:
    """Every JSON-RPC transaction object anywhere in a sample file, whatever its envelope."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("input"), str) and "hash" in node and "from" in node:
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def mainnet_txs(root: Path) -> list[Tx]:
    seen: dict[str, Tx] = {}
    for path in sorted(root.rglob("*.json")):
        try:
            doc = json.loads(path.read_bytes())
        except ValueError:
            continue
        for obj in _tx_objects(doc):
            if obj.get("chainId") in ("0x1", None) and obj.get("type") != "0x7e":
                try:
                    seen.setdefault(obj["hash"], normalize_tx(obj, 1, "bench", 0))
                except Malformed:
                    continue  # the normalizer's dead letters: not enrich's input
    return sorted(seen.values(), key=lambda tx: (tx.block_number or 0, tx.hash))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    txs = mainnet_txs(args.samples)
    if not txs:
        sys.exit(f"no mainnet transactions under {args.samples}")
    work = (txs * (args.count // len(txs) + 1))[: args.count]
    decoded = sum(1 for tx in txs if tx.to is not None and DEFAULT_ENRICHER.method(tx.selector))
    kinds = Counter(enrich(tx).kind for tx in txs)

    # Wall time is what a worker sees; CPU time is steadier on a shared machine. Best of rounds.
    best_wall = best_cpu = float("inf")
    for _ in range(args.rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for tx in work:
            enrich(tx)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)

    print(f"unique mainnet txs: {len(txs)}  timed: {len(work)} x {args.rounds} rounds (best)")
    print(f"reach the ABI decoder: {decoded / len(txs):.1%}  ({decoded} of {len(txs)})")
    print("kinds: " + ", ".join(f"{k} {v / len(txs):.1%}" for k, v in kinds.most_common()))
    n = len(work)
    print(f"enrich: {n / best_wall:,.0f} tx/s wall  ({best_wall / n * 1e6:.2f} us/tx)")
    print(f"enrich: {n / best_cpu:,.0f} tx/s of CPU time  ({best_cpu / n * 1e6:.2f} us/tx)")


if __name__ == "__main__":
    main()
