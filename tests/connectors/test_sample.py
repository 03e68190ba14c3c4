"""The bundled replay sample: its shape, that it normalizes cleanly, and that it holds exactly what
the reference data holds (counted here independently of the builder, deduplicated by hash).

The comparisons with the reference data need its folder: ``SCORPIUS_SHARED_DIR`` or ``../shared``
next to the repository; without it they are skipped (the committed sample is still checked).
"""

from __future__ import annotations

import collections
import functools
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from connectors.sample import build_sample
from operators.normalize import normalize_item
from operators.records import Block, DeadLetter, RawItem, Tx

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "connectors" / "sample" / "mainnet.jsonl.gz"
SHARED = Path(os.environ.get("SCORPIUS_SHARED_DIR", REPO.parent / "shared"))
CHAINS = {"eth-mainnet": 1, "op-mainnet": 10, "arb-sepolia": 421614}
NETWORK_FOLDERS = {"integration/mainnet/": 1, "integration/arb-sepolia/": 421614}
SYNTHETIC_FIXTURE = "10921990.json"  # a copy of 10921991 (mev-fixtures/README.md)

needs_shared = pytest.mark.skipif(
    not (SHARED / "chain-samples" / "INVENTORY.tsv").is_file(),
    reason=f"reference data not found at {SHARED} (set SCORPIUS_SHARED_DIR)",
)


@functools.cache
def sample() -> tuple[dict[str, Any], ...]:
    with gzip.open(SAMPLE, "rb") as lines:
        return tuple(json.loads(line) for line in lines)


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [r for r in sample() if r["kind"] == kind]


# --- the committed file alone ------------------------------------------------------------------


def test_lines_have_the_replay_shape_and_are_sorted() -> None:
    records = sample()
    assert records
    for record in records:
        assert set(record) == {"kind", "chain_id", "source", "seen_ms", "payload"}
        assert record["kind"] in ("tx", "call", "block")
        assert record["source"].startswith("sample:")
        assert isinstance(record["seen_ms"], int) and isinstance(record["payload"], dict)
    times = [r["seen_ms"] for r in records]
    assert times == sorted(times)


def test_every_item_normalizes_without_dead_letters() -> None:
    counts: collections.Counter[str] = collections.Counter()
    for record in sample():
        payload = json.dumps(record["payload"]).encode()
        item = RawItem(
            record["kind"], record["chain_id"], record["source"], record["seen_ms"], payload
        )
        results = normalize_item(item)
        dead = [r for r in results if isinstance(r, DeadLetter)]
        assert not dead, (record["kind"], dead[0].reason)
        expected = Block if record["kind"] == "block" else Tx
        assert len(results) == 1 and isinstance(results[0], expected)
        counts[record["kind"]] += 1
    assert counts == collections.Counter(r["kind"] for r in sample())


def test_tx_hashes_are_unique_per_chain() -> None:
    for kind in ("tx", "call"):
        keys = [(r["chain_id"], r["payload"]["hash"]) for r in of_kind(kind)]
        assert len(keys) == len(set(keys))


def test_times_follow_the_blocks() -> None:
    blocks = {}
    position = {}  # (chain, tx hash) -> (block number, index), from the block bundles
    for record in of_kind("block"):
        body = record["payload"]["block"]
        assert record["seen_ms"] == int(body["timestamp"], 16) * 1000
        number = int(body["number"], 16)
        blocks[(record["chain_id"], number)] = record["seen_ms"]
        for index, tx in enumerate(body["transactions"]):
            tx_hash = tx if isinstance(tx, str) else tx["hash"]
            position[(record["chain_id"], tx_hash)] = (number, index)
    checked = 0
    for record in of_kind("tx") + of_kind("call"):
        found = position.get((record["chain_id"], record["payload"]["hash"]))
        if found:  # pending before its block, in block order
            number, index = found
            block_ms = blocks[(record["chain_id"], number)]
            assert block_ms - 12_000 <= record["seen_ms"] - index < block_ms
            checked += 1
    assert checked > 5_000
    # estimated or not, mainnet block times grow with the block number
    mainnet = [blocks[k] for k in sorted(k for k in blocks if k[0] == 1)]
    assert mainnet == sorted(mainnet) and len(set(mainnet)) == len(mainnet)


# --- against the reference data ----------------------------------------------------------------


def _rows() -> list[dict[str, str]]:
    lines = (SHARED / "chain-samples" / "INVENTORY.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def _chain(row: dict[str, str]) -> int | None:
    if row["chains"] in CHAINS:
        return CHAINS[row["chains"]]
    return next((c for f, c in NETWORK_FOLDERS.items() if f in row["local_path"]), None)


def _load(local_path: str) -> Any:
    data = json.loads((SHARED / "chain-samples" / local_path).read_text())
    return list(data.values()) if local_path.startswith("tevm-monorepo/") else data


def _dicts(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dicts(value)


@functools.cache
def reference() -> dict[str, Any]:
    """Tx objects, receipts and full blocks of chains 1, 10 and 421614, found by shape alone."""
    txs: dict[tuple[int, str], list[dict[str, Any]]] = collections.defaultdict(list)
    receipts: set[tuple[int, str]] = set()
    blocks: dict[tuple[int, str], dict[str, Any]] = {}
    for row in _rows():
        chain = _chain(row)
        if chain is None or not row["local_path"].endswith(".json"):
            continue
        for obj in _dicts(_load(row["local_path"])):
            if {"hash", "from", "input"} <= obj.keys():
                txs[(chain, obj["hash"])].append(obj)
            elif {"transactionHash", "cumulativeGasUsed"} <= obj.keys():
                receipts.add((chain, obj["transactionHash"]))
            elif isinstance(obj.get("transactions"), list) and "number" in obj:
                body = obj["transactions"]
                indexes = [int(t["transactionIndex"], 16) for t in body if isinstance(t, dict)]
                if body and indexes == list(range(len(body))):  # the whole body, not a page
                    blocks[(chain, obj["hash"])] = obj
    return {"txs": txs, "receipts": receipts, "blocks": blocks}


def fixtures() -> list[dict[str, Any]]:
    folder = SHARED / "mev-fixtures" / "blocks"
    return [
        json.loads(p.read_text())
        for p in sorted(folder.glob("*.json"))
        if p.name != SYNTHETIC_FIXTURE
    ]


@needs_shared
def test_tx_items_are_every_reference_tx_once_and_unchanged() -> None:
    txs = reference()["txs"]
    items = {(r["chain_id"], r["payload"]["hash"]): r["payload"] for r in of_kind("tx")}
    assert set(items) == set(txs)
    for key, payload in items.items():
        # Replayed as pending: the node's object with its block position still unknown.
        assert payload in [build_sample.as_pending(tx) for tx in txs[key]]
    by_chain = collections.Counter(chain for chain, _ in txs)
    assert collections.Counter(r["chain_id"] for r in of_kind("tx")) == by_chain


@needs_shared
def test_call_items_are_every_top_level_trace_of_the_fixtures() -> None:
    expected = {}
    for fixture in fixtures():
        for trace in fixture["traces"]:
            if trace["trace_address"] == [] and trace["type"] in ("call", "create"):
                expected[trace["transaction_hash"]] = trace["action"]
    calls = {r["payload"]["hash"]: r["payload"] for r in of_kind("call")}
    assert set(calls) == set(expected)
    for tx_hash, action in expected.items():
        call = calls[tx_hash]
        assert call["from"] == action["from"] and call["value"] == action["value"]
        assert call["gas"] == action["gas"]
        assert call["input"] == action.get("input", action.get("init"))


@needs_shared
def test_block_items_are_fixtures_and_complete_reference_blocks() -> None:
    ref = reference()
    complete = {
        (chain, int(block["number"], 16))
        for (chain, _), block in ref["blocks"].items()
        if all((chain, t["hash"]) in ref["receipts"] for t in block["transactions"])
    }
    expected = complete | {(1, f["block_number"]) for f in fixtures()}
    items = [(r["chain_id"], int(r["payload"]["block"]["number"], 16)) for r in of_kind("block")]
    assert len(items) == len(set(items))
    assert set(items) == expected


@needs_shared
def test_fixture_bundles_keep_traces_receipts_and_known_times() -> None:
    bundles = {
        int(r["payload"]["block"]["number"], 16): r["payload"]
        for r in of_kind("block")
        if r["source"] == "sample:mev-inspect-py"
    }
    for fixture in fixtures():
        bundle = bundles[fixture["block_number"]]
        assert len(bundle["traces"]) == len(fixture["traces"])
        assert [t["traceAddress"] for t in bundle["traces"]] == [
            t["trace_address"] for t in fixture["traces"]
        ]
        assert [r["transactionHash"] for r in bundle["receipts"]] == [
            r["transaction_hash"]
            for r in sorted(fixture["receipts"], key=lambda r: r["transaction_index"])
        ]
        known = fixture.get("block_timestamp")
        assert bundle["timestampEstimated"] == (known is None)
        if known is not None:
            assert int(bundle["block"]["timestamp"], 16) == known


@needs_shared
def test_builder_reproduces_the_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "mainnet.jsonl.gz"
    build_sample.main([str(SHARED), "--out", str(out)])
    assert out.read_bytes() == SAMPLE.read_bytes()
    sources = SAMPLE.with_name("NOTICE.sources.tsv")
    assert out.with_name("NOTICE.sources.tsv").read_text() == sources.read_text()
