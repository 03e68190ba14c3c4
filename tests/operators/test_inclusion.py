"""Inclusion tracking: latency, reorgs, expiry, bounds; then the bytewax step on source items."""

from __future__ import annotations

import json

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.steps.inclusion import track_inclusion
from operators.inclusion import BlockSeen, InclusionTracker, PendingSeen, sighting
from operators.records import DeadLetter, Inclusion, RawItem, Tx


def tracker(ttl_ms: int = 60_000, max_pending: int = 100, depth: int = 8) -> InclusionTracker:
    return InclusionTracker(1, ttl_ms, max_pending, depth)


def pending(tx: str, at: int, source: str = "rpc:1:a") -> PendingSeen:
    return PendingSeen(1, tx, at, source)


def block(number: int, block_hash: str, at: int, *txs: str) -> BlockSeen:
    return BlockSeen(1, number, block_hash, at, txs)


def test_a_mined_pending_tx_reports_its_inclusion_latency() -> None:
    t = tracker()
    assert t.on_sighting(pending("0xa", 1_000, "rpc:1:x")) == []
    (rec,) = t.on_sighting(block(5, "0xb5", 13_500, "0xa", "0xprivate"))
    assert rec == Inclusion(
        key="1:0xa:included:0xb5",
        status="included",
        chain_id=1,
        tx_hash="0xa",
        first_seen_ms=1_000,
        source="rpc:1:x",
        block_number=5,
        block_hash="0xb5",
        included_ms=13_500,
        latency_ms=12_500,
    )
    assert t.pending_count == 0
    assert t.on_sighting(block(5, "0xb5", 14_000, "0xa")) == []  # the same block again


def test_a_reorg_reports_the_replaced_blocks_txs_and_tracks_them_again() -> None:
    t = tracker()
    t.on_sighting(pending("0xa", 0))
    t.on_sighting(pending("0xb", 0))
    t.on_sighting(block(5, "0xold5", 1_000, "0xa"))
    t.on_sighting(block(6, "0xold6", 2_000, "0xb"))
    out = t.on_sighting(block(5, "0xnew5", 2_500, "0xb"))
    by_status = {(r.status, r.tx_hash, r.block_hash) for r in out}
    assert by_status == {
        ("reorged", "0xa", "0xold5"),
        ("reorged", "0xb", "0xold6"),
        ("included", "0xb", "0xnew5"),
    }
    (again,) = t.on_sighting(block(6, "0xnew6", 3_000, "0xa"))
    assert (again.status, again.block_hash, again.latency_ms) == ("included", "0xnew6", 3_000)


def test_unmined_txs_expire_after_the_bound() -> None:
    t = tracker(ttl_ms=10_000)
    t.on_sighting(pending("0xa", 0))
    t.on_sighting(pending("0xb", 5_000))
    (rec,) = t.on_sighting(pending("0xc", 10_001))
    assert (rec.status, rec.tx_hash, rec.block_hash, rec.latency_ms) == (
        "expired",
        "0xa",
        None,
        10_001,  # how long it was tracked: first seen at 0, given up at 10_001
    )
    assert t.pending_count == 2


def test_pending_txs_are_bounded() -> None:
    t = tracker(max_pending=2)
    t.on_sighting(pending("0xa", 0))
    t.on_sighting(pending("0xb", 1))
    (rec,) = t.on_sighting(pending("0xc", 2))
    assert (rec.status, rec.tx_hash, rec.latency_ms) == ("expired", "0xa", 2)


def test_a_tx_announced_after_its_block_is_not_tracked() -> None:
    t = tracker()
    t.on_sighting(block(5, "0xb5", 1_000, "0xa"))
    assert t.on_sighting(pending("0xa", 1_100)) == []
    assert t.pending_count == 0


def test_old_blocks_leave_the_reorg_window() -> None:
    t = tracker(depth=2)
    for n in range(1, 5):
        t.on_sighting(block(n, f"0xb{n}", n, f"0xt{n}"))
    # Block 1 is out of the window: a different block 1 is news, not a reorg of tracked txs.
    t.on_sighting(pending("0xt1", 10))
    assert t.pending_count == 1


def test_sighting_reads_source_items_and_normalized_records() -> None:
    raw_tx = RawItem("tx", 1, "rpc:1:a", 7, b'{"hash":"0xAA"}')
    assert sighting(raw_tx) == PendingSeen(1, "0xaa", 7, "rpc:1:a")
    bundle = {"block": {"number": "0x10", "hash": "0xBB", "transactions": [{"hash": "0xAA"}]}}
    raw_block = RawItem("block", 1, "rpc:1:a", 9, json.dumps(bundle).encode())
    assert sighting(raw_block) == BlockSeen(1, 16, "0xbb", 9, ("0xaa",))
    tx = Tx(1, "0xaa", "0x1", None, 0, 0, 21000, 2, "0x", None, 5, "s")
    assert sighting(tx) == PendingSeen(1, "0xaa", 5, "s")
    assert sighting(DeadLetter("s", "r", "p")) is None
    assert sighting(RawItem("tx", 1, "s", 0, b"garbage")) is None


def test_the_step_tracks_each_chain_separately() -> None:
    def tx(chain: int, h: str, at: int) -> RawItem:
        return RawItem("tx", chain, f"rpc:{chain}:a", at, json.dumps({"hash": h}).encode())

    def blk(chain: int, h: str, at: int, *txs: str) -> RawItem:
        body = {"number": "0x1", "hash": h, "transactions": list(txs)}
        payload = json.dumps({"block": body, "receipts": [], "traces": []}).encode()
        return RawItem("block", chain, f"rpc:{chain}:a", at, payload)

    items = [
        tx(1, "0xa", 100),
        tx(10, "0xa", 200),
        blk(10, "0xb", 700, "0xa"),
        blk(1, "0xc", 1100, "0xa"),
    ]
    out: list[Inclusion] = []
    flow = Dataflow("inclusion_test")
    op.output(
        "out", track_inclusion("incl", op.input("in", flow, TestingSource(items))), TestingSink(out)
    )
    run_main(flow)
    assert sorted((r.chain_id, r.block_hash, r.latency_ms) for r in out) == [
        (1, "0xc", 1000),
        (10, "0xb", 500),
    ]
