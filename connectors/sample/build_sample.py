"""Build the bundled replay sample ``connectors/sample/mainnet.jsonl.gz`` from the reference data.

Usage: ``python -m connectors.sample.build_sample [SHARED_DIR] [--out PATH]`` where SHARED_DIR
holds ``chain-samples/`` and ``mev-fixtures/`` (default: ``../shared`` next to the repository).

One JSON object per line, sorted by ``seen_ms``::

    {"kind": "tx" | "call" | "block", "chain_id": 1, "source": "sample:<origin>",
     "seen_ms": 1690000000000, "payload": {...}}

- ``tx``: every full transaction object of chains 1, 10 and 421614 in chain-samples, once per
  (chain, hash), exactly as the node returned it.
- ``call``: the top-level call of every transaction of the mev-fixtures blocks (they carry traces,
  not transaction objects): hash, from, to, value, gas, input, gasPrice (from the receipt summary,
  London onwards), blockNumber, transactionIndex.
- ``block``: a bundle ``{"block", "receipts", "traces"}`` for every chain-samples block whose full
  body and every receipt are known, and for every mev-fixtures block (traces in the RPC's camelCase
  shape, receipt summaries as receipt-shaped objects, the body as the tx hashes in order).

Times: a block arrives at its timestamp; its txs arrive "pending" one block interval earlier, one
ms apart in block order. Being pending, a tx or call item carries what a node returns for a pending
tx: ``blockHash``, ``blockNumber`` and ``transactionIndex`` are null (the block bundle that follows
holds them); everything else is the node's object unchanged. A block whose timestamp is not in the data gets one interpolated linearly
in block number between the nearest known blocks of its chain (extrapolated past the ends); such
bundles carry ``"timestampEstimated": true``.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO_ROOT.parent / "shared"
DEFAULT_OUT = Path(__file__).resolve().parent / "mainnet.jsonl.gz"

CHAIN_IDS = {"eth-mainnet": 1, "mainnet": 1, "op-mainnet": 10, "arb-sepolia": 421614}
# How long before its block a tx is "seen": about one block interval of its chain.
BLOCK_INTERVAL_MS = {1: 12_000, 10: 2_000, 421614: 250}
LONDON_BLOCK = 12_965_000  # first mainnet block with a base fee and effective gas prices
SYNTHETIC_FIXTURES = {"10921990.json"}  # a copy of 10921991 without its reward trace (README)
TX_METHODS = {
    "eth_getTransactionByHash",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getTransactionByBlockNumberAndIndex",
}
BLOCK_METHODS = {"eth_getBlockByHash", "eth_getBlockByNumber", "erigon_getBlockByTimestamp"}
RECEIPT_LIST_METHODS = {"eth_getBlockReceipts", "erigon_getBlockReceiptsByBlockHash"}


# --- reading the reference files ----------------------------------------------------------------


def _erigon_calls(data: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """(method, result) of each request in an erigon/nethermind {request, response} file."""
    for entry in data:
        requests, responses = entry.get("request"), entry.get("response")
        if isinstance(requests, dict):
            requests, responses = [requests], [responses]
        if not isinstance(requests, list) or not isinstance(responses, list):
            continue
        # pair by position: the recorded batches reuse one id for every request
        for request, response in zip(requests, responses, strict=True):
            if isinstance(response, dict) and response.get("result") is not None:
                yield request["method"], response["result"]


def _tevm_calls(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(method, result) of each entry in a tevm snapshot: keys are JSON request arrays."""
    for key, result in data.items():
        request = json.loads(key)
        if result is not None:
            yield request[1], result


def rpc_results(root: Path, local_path: str) -> Iterator[tuple[str, Any]]:
    data = json.loads((root / "chain-samples" / local_path).read_text())
    if local_path.startswith("tevm-monorepo/"):
        return _tevm_calls(data)
    if local_path.startswith("helios/"):
        # bare results: block.json is a header with tx hashes, receipts.json a receipt list
        method = "eth_getBlockByNumber" if local_path.endswith("block.json") else "receipts"
        return iter([(method, data)])
    return _erigon_calls(data)


def inventory(root: Path) -> list[dict[str, str]]:
    lines = (root / "chain-samples" / "INVENTORY.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def file_chain(row: dict[str, str]) -> int | None:
    """The chain of a reference file: INVENTORY's column, else erigon's network folder."""
    chains = row["chains"]
    if chains in CHAIN_IDS:
        return CHAIN_IDS[chains]
    if chains == "-" and "/integration/" in row["local_path"]:
        network = row["local_path"].split("/integration/")[1].split("/")[0]
        return CHAIN_IDS.get(network)
    return None


# --- collecting ---------------------------------------------------------------------------------


class Collected:
    """Everything read from chain-samples, deduplicated."""

    def __init__(self) -> None:
        self.txs: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
        self.blocks: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
        self.receipts: dict[tuple[int, str], dict[str, Any]] = {}
        self.timestamps: dict[int, dict[int, int]] = {}

    def add_timestamp(self, chain: int, number: Any, timestamp: Any) -> None:
        if number is not None and timestamp is not None:
            self.timestamps.setdefault(chain, {})[_int(number)] = _int(timestamp)

    def add_tx(self, chain: int, path: str, tx: dict[str, Any]) -> None:
        self.txs.setdefault((chain, tx["hash"]), (path, tx))
        self.add_timestamp(chain, tx.get("blockNumber"), tx.get("blockTimestamp"))

    def add_block(self, chain: int, path: str, block: dict[str, Any]) -> None:
        self.add_timestamp(chain, block.get("number"), block.get("timestamp"))
        txs = block.get("transactions") or []
        full = [tx for tx in txs if isinstance(tx, dict)]
        for tx in full:
            self.add_tx(chain, path, tx)
        # only a complete body makes a bundle (ots pages hold a slice of the block)
        if full and len(full) == len(txs) and "transactionCount" not in block:
            self.blocks.setdefault((chain, block["hash"]), (path, block))

    def add_receipt(self, chain: int, receipt: dict[str, Any]) -> None:
        self.receipts.setdefault((chain, receipt["transactionHash"]), receipt)


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def collect(root: Path) -> Collected:
    out = Collected()
    for row in sorted(inventory(root), key=lambda r: r["local_path"]):
        chain = file_chain(row)
        if chain is None:
            continue  # gnosis and the synthetic hive chain are not part of the sample
        path = row["local_path"]
        for method, result in rpc_results(root, path):
            if method in TX_METHODS:
                out.add_tx(chain, path, result)
            elif method in BLOCK_METHODS:
                out.add_block(chain, path, result)
            elif method == "ots_getBlockTransactions":
                out.add_block(chain, path, result["fullblock"])
                for receipt in result["receipts"]:
                    out.add_receipt(chain, receipt)
            elif method in RECEIPT_LIST_METHODS or method == "receipts":
                for receipt in result:
                    out.add_receipt(chain, receipt)
            elif method == "eth_getTransactionReceipt":
                out.add_receipt(chain, result)
    return out


def read_fixtures(root: Path) -> list[dict[str, Any]]:
    paths = sorted((root / "mev-fixtures" / "blocks").glob("*.json"))
    fixtures = [
        dict(json.loads(p.read_text()), file=p.name)
        for p in paths
        if p.name not in SYNTHETIC_FIXTURES
    ]
    return sorted(fixtures, key=lambda f: f["block_number"])


# --- times -------------------------------------------------------------------------------------


def estimate_timestamp(anchors: dict[int, int], number: int) -> int:
    """Linear in block number between the nearest known blocks (or past the two at an end)."""
    known = sorted(anchors)
    if number in anchors:
        return anchors[number]
    if len(known) < 2:
        raise ValueError(f"cannot estimate the time of block {number}: too few known blocks")
    i = min(max(bisect.bisect_left(known, number), 1), len(known) - 1)
    lo, hi = known[i - 1], known[i]
    slope = (anchors[hi] - anchors[lo]) / (hi - lo)
    return round(anchors[lo] + slope * (number - lo))


# --- items -------------------------------------------------------------------------------------


def _item(kind: str, chain: int, path: str, seen_ms: int, payload: Any) -> dict[str, Any]:
    # the path stays with the item until NOTICE.sources.tsv is written; its top folder is the origin
    return {
        "kind": kind,
        "chain_id": chain,
        "source": f"sample:{path.split('/')[0]}",
        "path": path,
        "seen_ms": seen_ms,
        "payload": payload,
    }


def _pending_ms(chain: int, block_timestamp: int, tx_index: int) -> int:
    return block_timestamp * 1000 - BLOCK_INTERVAL_MS[chain] + tx_index


PENDING_NULLS = ("blockHash", "blockNumber", "transactionIndex")


def as_pending(tx: dict[str, Any]) -> dict[str, Any]:
    """The tx as a node shows it while pending: no block position yet."""
    return {**tx, **dict.fromkeys(PENDING_NULLS)}


def chain_sample_items(data: Collected) -> list[dict[str, Any]]:
    items = []
    for (chain, _), (path, tx) in data.txs.items():
        anchors = data.timestamps[chain]
        number = _int(tx["blockNumber"])
        timestamp = anchors.get(number) or estimate_timestamp(anchors, number)
        seen = _pending_ms(chain, timestamp, _int(tx["transactionIndex"]))
        items.append(_item("tx", chain, path, seen, as_pending(tx)))
    for (chain, _), (path, block) in data.blocks.items():
        hashes = [tx["hash"] for tx in block["transactions"]]
        receipts = [data.receipts.get((chain, h)) for h in hashes]
        if any(r is None for r in receipts):
            continue
        bundle = {"block": block, "receipts": receipts}
        items.append(_item("block", chain, path, _int(block["timestamp"]) * 1000, bundle))
    return items


def _camel_trace(trace: dict[str, Any]) -> dict[str, Any]:
    """A mev-inspect (snake_case) trace in the shape Parity's trace_block returns over RPC."""
    return {
        "action": trace["action"],
        "blockHash": trace["block_hash"],
        "blockNumber": trace["block_number"],
        "result": trace["result"],
        "error": trace["error"],
        "subtraces": trace["subtraces"],
        "traceAddress": trace["trace_address"],
        "transactionHash": trace["transaction_hash"],
        "transactionPosition": trace["transaction_position"],
        "type": trace["type"],
    }


def _receipt_object(summary: dict[str, Any], london: bool) -> dict[str, Any]:
    # before London the fixtures write 0 for an effective gas price they did not know
    price = summary["effective_gas_price"]
    return {
        "blockNumber": hex(summary["block_number"]),
        "transactionHash": summary["transaction_hash"],
        "transactionIndex": hex(summary["transaction_index"]),
        "gasUsed": hex(summary["gas_used"]),
        "cumulativeGasUsed": hex(summary["cumulative_gas_used"]),
        "effectiveGasPrice": hex(price) if london else None,
        "to": summary["to"],
    }


def fixture_items(fixtures: list[dict[str, Any]], anchors: dict[int, int]) -> list[dict[str, Any]]:
    items = []
    for fixture in fixtures:
        number = fixture["block_number"]
        path = f"mev-inspect-py/tests/blocks/{fixture['file']}"
        london = number >= LONDON_BLOCK
        estimated = fixture.get("block_timestamp") is None
        timestamp = estimate_timestamp(anchors, number) if estimated else fixture["block_timestamp"]
        summaries = sorted(fixture["receipts"], key=lambda r: r["transaction_index"])
        index_of = {r["transaction_hash"]: r for r in summaries}
        top = [
            t
            for t in fixture["traces"]
            if t["trace_address"] == [] and t["type"] in ("call", "create")
        ]
        for trace in sorted(top, key=lambda t: t["transaction_position"]):
            action, summary = trace["action"], index_of[trace["transaction_hash"]]
            call = {
                "hash": trace["transaction_hash"],
                "from": action["from"],
                "to": action.get("to") if trace["type"] == "call" else None,
                "value": action["value"],
                "gas": action["gas"],
                "input": action["input"] if trace["type"] == "call" else action["init"],
                "blockNumber": hex(number),
                "transactionIndex": hex(summary["transaction_index"]),
            }
            if london:
                call["gasPrice"] = hex(summary["effective_gas_price"])
            seen = _pending_ms(1, timestamp, summary["transaction_index"])
            items.append(_item("call", 1, path, seen, as_pending(call)))
        block: dict[str, Any] = {
            "number": hex(number),
            "hash": fixture["traces"][0]["block_hash"],
            "timestamp": hex(timestamp),
            "miner": fixture["miner"],
            "transactions": [r["transaction_hash"] for r in summaries],
        }
        if london:
            block["baseFeePerGas"] = hex(fixture["base_fee_per_gas"])
        bundle = {
            "block": block,
            "receipts": [_receipt_object(r, london) for r in summaries],
            "traces": [_camel_trace(t) for t in fixture["traces"]],
            "timestampEstimated": estimated,
        }
        items.append(_item("block", 1, path, timestamp * 1000, bundle))
    return items


_KIND_ORDER = {"tx": 0, "call": 0, "block": 1}


def build(root: Path) -> list[dict[str, Any]]:
    data = collect(root)
    fixtures = read_fixtures(root)
    mainnet = data.timestamps.setdefault(1, {})
    for fixture in fixtures:
        if fixture.get("block_timestamp") is not None:
            mainnet[fixture["block_number"]] = fixture["block_timestamp"]
    items = chain_sample_items(data) + fixture_items(fixtures, mainnet)

    def order(item: dict[str, Any]) -> tuple[int, int, int, str]:
        payload = item["payload"]
        key = payload["hash"] if item["kind"] != "block" else payload["block"]["hash"]
        return item["seen_ms"], item["chain_id"], _KIND_ORDER[item["kind"]], key

    return sorted(items, key=order)


MEV_INSPECT = ("flashbots/mev-inspect-py", "ce8179f07e4fb8740b43570aa2c5826447c2af26", "MIT")


def sources(root: Path, items: list[dict[str, Any]]) -> list[list[str]]:
    """One row per reference file that gave the sample at least one item (NOTICE.sources.tsv)."""
    used = {item["path"] for item in items}
    rows = [
        [r["local_path"], r["source_repo"], r["source_path"], r["source_commit"], r["license"]]
        for r in inventory(root)
        if r["local_path"] in used
    ]
    repo, commit, license_name = MEV_INSPECT
    for path in sorted(p for p in used if p.startswith("mev-inspect-py/")):
        rows.append([path, repo, path.removeprefix("mev-inspect-py/"), commit, license_name])
    return sorted(rows)


def write(items: list[dict[str, Any]], out: Path) -> None:
    # mtime=0 and a fixed key order keep the file byte-identical from one build to the next
    with out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for item in items:
            line = {k: v for k, v in item.items() if k != "path"}
            gz.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")


def write_sources(rows: list[list[str]], out: Path) -> None:
    header = ["sample_path", "source_repo", "source_path", "source_commit", "license"]
    out.write_text("\n".join("\t".join(row) for row in [header, *rows]) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared", nargs="?", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    items = build(args.shared)
    write(items, args.out)
    write_sources(sources(args.shared, items), args.out.with_name("NOTICE.sources.tsv"))
    counts: dict[tuple[str, int], int] = {}
    for item in items:
        key = (item["kind"], item["chain_id"])
        counts[key] = counts.get(key, 0) + 1
    for (kind, chain), count in sorted(counts.items()):
        print(f"{kind:6s} chain {chain:>7d}: {count}")
    print(f"{len(items)} items, {args.out.stat().st_size} bytes -> {args.out}")


if __name__ == "__main__":
    main()
