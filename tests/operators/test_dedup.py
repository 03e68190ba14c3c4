"""Dedup across URLs and reconnects: pure logic, then the bytewax step."""

from __future__ import annotations

import json

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.steps.dedup import dedup_items
from operators.dedup import SeenSet, item_hash, shard_key
from operators.records import DeadLetter, RawItem


def tx_item(tx_hash: str, seen_ms: int, source: str = "rpc:1:a", chain_id: int = 1) -> RawItem:
    return RawItem("tx", chain_id, source, seen_ms, json.dumps({"hash": tx_hash}).encode())


def test_first_sighting_is_kept_and_reported_to_later_copies() -> None:
    seen = SeenSet(ttl_ms=1000, max_entries=10)
    assert seen.first_sighting((1, "0xaa"), 100, "a") is None
    assert seen.first_sighting((1, "0xaa"), 150, "b") == (100, "a")
    assert seen.first_sighting((10, "0xaa"), 150, "b") is None  # another chain, another key


def test_entries_expire_after_the_ttl_of_item_time() -> None:
    seen = SeenSet(ttl_ms=1000, max_entries=10)
    seen.first_sighting((1, "0xaa"), 0, "a")
    seen.first_sighting((1, "0xbb"), 900, "a")
    assert seen.first_sighting((1, "0xcc"), 1500, "a") is None  # 0xaa is now older than the ttl
    assert len(seen) == 2
    assert seen.first_sighting((1, "0xaa"), 1501, "b") is None  # forgotten: new again
    assert seen.first_sighting((1, "0xbb"), 1501, "b") == (900, "a")


def test_memory_is_bounded_oldest_first() -> None:
    seen = SeenSet(ttl_ms=10**9, max_entries=3)
    for i in range(5):
        seen.first_sighting((1, f"0x{i}"), i, "a")
    assert len(seen) == 3
    assert seen.first_sighting((1, "0x4"), 10, "b") == (4, "a")
    assert seen.first_sighting((1, "0x0"), 10, "b") is None


def test_item_hash_prefers_the_source_hash_and_falls_back_to_the_payload() -> None:
    block = RawItem("block", 1, "s", 0, b'{"block":{"hash":"0xAB"},"receipts":[],"traces":[]}')
    assert item_hash(block) == "0xab"
    assert item_hash(tx_item("0xCD", 0)) == "0xcd"
    assert item_hash(RawItem("tx", 1, "s", 0, b"{}", "0xee")) == "0xee"
    assert item_hash(RawItem("tx", 1, "s", 0, b"not json")) is None


def test_shards_spread_one_chain() -> None:
    keys = {shard_key(1, f"0x{i:064x}", 16) for i in range(64)}
    assert len(keys) == 16
    assert all(k.startswith("1:") for k in keys)


def test_dedup_step_keeps_the_first_copy_of_each_item_and_passes_dead_letters() -> None:
    letter = DeadLetter("source.rpc", "garbage frame: x", "x")
    items: list[RawItem | DeadLetter] = [
        tx_item("0x01", 100, "rpc:1:a"),
        tx_item("0x01", 120, "rpc:1:b"),
        tx_item("0x02", 130, "rpc:1:b"),
        letter,
        tx_item("0x02", 140, "rpc:1:a"),
        tx_item("0x01", 150, "rpc:10:a", chain_id=10),
        RawItem("tx", 1, "rpc:1:a", 160, b"garbage"),
    ]
    out: list[RawItem | DeadLetter] = []
    flow = Dataflow("dedup_test")
    op.output(
        "out", dedup_items("dedup", op.input("in", flow, TestingSource(items))), TestingSink(out)
    )
    run_main(flow)
    kept = sorted(
        ((x.chain_id, x.seen_ms, x.source) for x in out if isinstance(x, RawItem)),
    )
    assert kept == [
        (1, 100, "rpc:1:a"),
        (1, 130, "rpc:1:b"),
        (1, 160, "rpc:1:a"),
        (10, 150, "rpc:10:a"),
    ]
    assert letter in out


def test_dedup_step_keeps_arrival_order_among_items_seen_in_the_same_millisecond() -> None:
    # A gas war's bumps can share a millisecond; which replaced which is their arrival order.
    # Hashes spread over many shards, so the keyed step regroups them: the step restores it.
    hashes = [f"0x{i:04x}{(i * 7919) % 65536:04x}" for i in range(40)]
    assert len({shard_key(1, h, 64) for h in hashes}) > 10
    items = [tx_item(h, 500) for h in hashes]
    out: list[RawItem | DeadLetter] = []
    flow = Dataflow("dedup_order_test")
    op.output(
        "out",
        dedup_items("dedup", op.input("in", flow, TestingSource(items, batch_size=len(items)))),
        TestingSink(out),
    )
    run_main(flow)
    assert [json.loads(x.payload)["hash"] for x in out if isinstance(x, RawItem)] == hashes
