"""Live-ingestion figures against a local Anvil node (run tests/services/install_anvil.sh first).

    python bench/rpc_ingest.py [--txs 2000]

Prints, for pending txs sent to Anvil in JSON-RPC batches and read back through the RPC source and
the dedup step in bytewax: the receive latency (batch sent → frame read, ``seen_ms``), the
end-to-end latency (→ the item leaves dedup), the throughput; then the time from a mined block's
head notification to its bundle (body + receipts + traces) leaving dedup; then the pure-logic
rates of the dedup seen-set and the inclusion tracker. Loopback figures: they measure Scorpius,
not a provider's network.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import bytewax.operators as op
import requests
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.testbed import DEV_KEYS, AnvilNode, anvil_binary
from connectors.rpc import Endpoint
from flows.config import RpcConfig
from flows.steps.dedup import dedup_items
from flows.wiring.rpc import rpc_source
from operators.dedup import SeenSet
from operators.inclusion import BlockSeen, InclusionTracker, PendingSeen
from operators.records import RawItem

CHAIN = 31337
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def now_ms() -> float:
    return time.time_ns() / 1e6


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def signed_txs(count: int) -> list[str]:
    """``count`` type-2 transfers spread over the dev accounts (nonces from 0)."""
    raws: list[str] = []
    for i in range(count):
        key = DEV_KEYS[i % len(DEV_KEYS)]
        tx = {
            "chainId": CHAIN,
            "type": 2,
            "nonce": i // len(DEV_KEYS),
            "to": RECIPIENT,
            "value": i + 1,
            "gas": 21_000,
            "maxFeePerGas": 30 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        raws.append("0x" + Account.sign_transaction(tx, key).raw_transaction.hex())
    return raws


def send_batches(node: AnvilNode, raws: list[str], size: int = 100) -> dict[str, float]:
    """Sends in JSON-RPC batches; returns tx hash → time its batch was sent (ms)."""
    sent_at: dict[str, float] = {}
    for start in range(0, len(raws), size):
        body: list[dict[str, Any]] = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
            for i, raw in enumerate(raws[start : start + size])
        ]
        at = now_ms()  # the node notifies subscribers before it answers the whole batch
        replies = requests.post(node.http_url, json=body, timeout=60).json()
        for reply in replies:
            sent_at[reply["result"].lower()] = at
    return sent_at


def bench_source(count: int) -> None:
    node = AnvilNode(anvil_binary(), CHAIN)
    node.start()
    stop = threading.Event()
    out: list[tuple[float, Any]] = []
    flow = Dataflow("bench_rpc")
    raw = op.input("rpc", flow, rpc_source([Endpoint(CHAIN, node.ws_url)], RpcConfig(), stop))
    stamped = op.map("stamp", dedup_items("dedup", raw), lambda item: (now_ms(), item))
    op.output("out", stamped, TestingSink(out))
    runner = threading.Thread(target=run_main, args=(flow,), daemon=True)
    try:
        runner.start()
        time.sleep(1.5)  # connected and subscribed
        raws = signed_txs(count)
        started = now_ms()
        sent_at = send_batches(node, raws)
        deadline = time.monotonic() + 120
        while sum(1 for _, x in out if x.kind == "tx") < count and time.monotonic() < deadline:
            time.sleep(0.05)
        txs = [(at, x) for at, x in out if isinstance(x, RawItem) and x.kind == "tx"]
        done = max(at for at, _ in txs)
        receive = [x.seen_ms - sent_at[x.hash] for _, x in txs if x.hash in sent_at]
        end_to_end = [at - sent_at[x.hash] for at, x in txs if x.hash in sent_at]
        print(f"pending txs: {len(txs)} of {count} delivered once each")
        print(
            f"  receive latency (sent → seen_ms) ms: p50 {statistics.median(receive):.1f} "
            f"p99 {pct(receive, 0.99):.1f}"
        )
        print(
            f"  end-to-end (sent → out of dedup) ms: p50 {statistics.median(end_to_end):.1f} "
            f"p99 {pct(end_to_end, 0.99):.1f}"
        )
        inside = [at - x.seen_ms for at, x in txs]
        print(
            f"  inside Scorpius (seen_ms → out of dedup) ms: p50 {statistics.median(inside):.1f} "
            f"p99 {pct(inside, 0.99):.1f}"
        )
        print(f"  throughput: {len(txs) / ((done - started) / 1000):.0f} tx/s (send included)")

        node.rpc("evm_mine")
        while not any(x.kind == "block" for _, x in out) and time.monotonic() < deadline:
            time.sleep(0.01)
        ((at, block),) = [(a, x) for a, x in out if x.kind == "block"]
        print(
            f"block with {count} txs: head seen → bundle out of dedup {at - block.seen_ms:.0f} ms, "
            f"bundle {len(block.payload) / 1e6:.1f} MB (body + receipts + traces)"
        )
        number = hex(int(node.rpc("eth_blockNumber"), 16))
        node_ms = []
        for method, params in (
            ("eth_getBlockByNumber", [number, True]),
            ("eth_getBlockReceipts", [number]),
            ("trace_block", [number]),
        ):
            t0 = now_ms()
            node.rpc(method, *params)
            node_ms.append(f"{method} {now_ms() - t0:.0f} ms")
        print(f"  the node alone, over HTTP, one call after another: {', '.join(node_ms)}")
    finally:
        stop.set()
        runner.join(timeout=30)
        node.close()


def bench_logic(count: int = 200_000) -> None:
    hashes = [f"0x{i:064x}" for i in range(count)]
    seen = SeenSet(ttl_ms=900_000, max_entries=count)
    started = time.perf_counter()
    for i, h in enumerate(hashes):
        seen.first_sighting((1, h), i, "rpc:1:a")
    for i, h in enumerate(hashes):
        seen.first_sighting((1, h), count + i, "rpc:1:b")
    rate = 2 * count / (time.perf_counter() - started)
    print(f"dedup seen-set: {rate / 1e6:.2f} M checks/s ({count} new + {count} duplicates)")

    tracker = InclusionTracker(1, 3_600_000, 1_000_000, 64)
    per_block = 200
    started = time.perf_counter()
    for i, h in enumerate(hashes):
        tracker.on_sighting(PendingSeen(1, h, i, "rpc:1:a"))
    for b in range(count // per_block):
        txs = tuple(hashes[b * per_block : (b + 1) * per_block])
        tracker.on_sighting(BlockSeen(1, b, f"0xb{b}", count + b, txs))
    rate = 2 * count / (time.perf_counter() - started)
    print(f"inclusion tracker: {rate / 1e6:.2f} M tx events/s ({per_block} txs per block)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=2000)
    args = parser.parse_args()
    bench_source(args.txs)
    bench_logic()


if __name__ == "__main__":
    main()
