"""What a quote costs in live mode: ``getReserves`` by ``eth_call`` over loopback HTTP to a
local Anvil node (a cache miss: the first pending swap on a pool after a block), against a
cached lookup (every later swap on that pool in the same block).

    python bench/bench_reserves_rpc.py [--calls N]

Needs Anvil (tests/services/install_anvil.sh). The pair is a few bytes of EVM code answering
like a V2 pair, set with ``anvil_setCode``; a remote provider adds its network round trip.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.testbed import AnvilNode, anvil_binary
from connectors.rpc.reserves import RpcReserves
from operators.mev.mempool.reserves import ReservesAtHead

PAIR = "0x" + "5a" * 20
# return abi.encode(2**100, 2**90, 7) for any call
CODE = (
    "0x6f"
    + (2**100).to_bytes(16, "big").hex()
    + "600052"
    + "6f"
    + (2**90).to_bytes(16, "big").hex()
    + "602052"
    + "6007604052"
    + "60606000f3"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    node = AnvilNode(anvil_binary(), 31337)
    node.start()
    try:
        node.rpc("anvil_setCode", PAIR, CODE)
        node.rpc("evm_mine")
        fetch = RpcReserves({31337: node.http_url}, timeout_s=5.0)
        fetch(31337, PAIR, None)  # connection set up outside the timing
        misses = []
        for _ in range(args.calls):
            started = time.perf_counter()
            fetch(31337, PAIR, 1)
            misses.append(time.perf_counter() - started)
        state = ReservesAtHead()
        state.on_block(1)
        lookup = state.lookup(fetch)
        lookup(31337, PAIR)
        started = time.perf_counter()
        for _ in range(args.calls * 100):
            lookup(31337, PAIR)
        hit = (time.perf_counter() - started) / (args.calls * 100)
    finally:
        node.close()
    misses.sort()
    print(
        f"getReserves eth_call (cache miss, loopback Anvil): median "
        f"{statistics.median(misses) * 1000:.2f} ms, p95 {misses[int(len(misses) * 0.95)] * 1000:.2f} ms "
        f"({args.calls} calls, 1 thread); cached lookup: {hit * 1e6:.2f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
