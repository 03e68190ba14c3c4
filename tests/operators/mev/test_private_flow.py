"""Private order flow: the tracker's judgement of mined txs from pending sightings and watch states,
and the private status carried into block findings. The live RPC source on Anvil is exercised in
tests/connectors/test_rpc_private_flow.py."""

from __future__ import annotations

import msgspec

from operators.mev import detect_block
from operators.mev.private import (
    PRIVATE,
    PUBLIC,
    UNKNOWN,
    PrivateFlowTracker,
    WatchState,
    annotated,
    watch_item,
    watch_state,
)
from operators.records import Block, Tx
from tests.operators.mev.conftest import block as fixture_block

CHAIN = 1
SOURCE = "rpc:1:ws://127.0.0.1"


def _tx(tx_hash: str, tx_type: int = 2) -> Tx:
    return Tx(CHAIN, tx_hash, "0xa", "0xb", 0, 0, 21_000, tx_type, "0x", None, 0, SOURCE)


def _block(number: int, timestamp: int, *txs: Tx) -> Block:
    return Block(
        CHAIN,
        number,
        f"0x{number:064x}",
        timestamp,
        None,
        None,
        timestamp * 1000,
        SOURCE,
        txs=txs,
        tx_hashes=tuple(t.hash for t in txs),
    )


def _tracker() -> PrivateFlowTracker:
    return PrivateFlowTracker(CHAIN, lookback_ms=12_000, max_pending=3, pending_ttl_ms=60_000)


def test_watch_items_round_trip_and_other_items_are_not_states() -> None:
    item = watch_item(CHAIN, SOURCE, True, 5)
    assert watch_state(item) == WatchState(CHAIN, SOURCE, True, 5)
    assert watch_state(msgspec.structs.replace(item, payload=b"{")) is None
    assert watch_state(msgspec.structs.replace(item, kind="tx")) is None


def test_seen_pending_is_public_unseen_while_watched_is_private() -> None:
    tracker = _tracker()
    tracker.on_watch(WatchState(CHAIN, SOURCE, True, 0))
    tracker.on_pending("0x01", 50_000)
    out = tracker.on_block(_block(10, 100, _tx("0x01"), _tx("0x02"), _tx("0x7e", tx_type=0x7E)))
    assert out.tx_private == (PUBLIC, PRIVATE, UNKNOWN)  # a deposit never passes a mempool
    assert [t.private for t in out.txs] == [PUBLIC, PRIVATE, UNKNOWN]


def test_unwatched_times_are_unknown_but_a_seen_tx_stays_public() -> None:
    tracker = _tracker()
    tracker.on_watch(WatchState(CHAIN, SOURCE, True, 0))
    tracker.on_pending("0x01", 10_000)
    tracker.on_watch(WatchState(CHAIN, SOURCE, False, 20_000))
    tracker.on_watch(WatchState(CHAIN, SOURCE, True, 40_000))
    # Mined at 30 s, while disconnected (a backfilled block), read after the reconnection.
    out = tracker.on_block(_block(10, 30, _tx("0x01"), _tx("0x02")))
    assert out.tx_private == (PUBLIC, UNKNOWN)
    # Mined at 45 s: the watch is up again but not for the whole lookback.
    assert tracker.on_block(_block(11, 45, _tx("0x03"))).tx_private == (UNKNOWN,)
    # Mined at 15 s, inside the first interval and its lookback: known.
    assert tracker.on_block(_block(9, 15, _tx("0x04"))).tx_private == (PRIVATE,)
    assert tracker.on_block(_block(12, 60, _tx("0x05"))).tx_private == (PRIVATE,)


def test_another_source_keeps_the_chain_watched() -> None:
    tracker = _tracker()
    tracker.on_watch(WatchState(CHAIN, "a", True, 0))
    tracker.on_watch(WatchState(CHAIN, "b", True, 0))
    tracker.on_watch(WatchState(CHAIN, "a", False, 20_000))
    assert tracker.on_block(_block(10, 30, _tx("0x02"))).tx_private == (PRIVATE,)


def test_a_reorg_mining_a_public_tx_again_keeps_it_public() -> None:
    tracker = _tracker()
    tracker.on_watch(WatchState(CHAIN, SOURCE, True, 0))
    tracker.on_pending("0x01", 20_000)
    assert tracker.on_block(_block(10, 30, _tx("0x01"))).tx_private == (PUBLIC,)
    replacing = msgspec.structs.replace(_block(10, 31, _tx("0x01")), hash="0xother")
    assert tracker.on_block(replacing).tx_private == (PUBLIC,)


def test_pending_memory_is_bounded() -> None:
    tracker = _tracker()
    tracker.on_watch(WatchState(CHAIN, SOURCE, True, 0))
    for i in range(5):
        tracker.on_pending(f"0x0{i}", 20_000 + i)
    # Over max_pending=3 the earliest sightings are forgotten: a mined tx the tracker cannot
    # find may be one of them, so it is unknown rather than private ...
    out = tracker.on_block(_block(10, 30, *(_tx(f"0x0{i}") for i in range(5))))
    assert out.tx_private == (UNKNOWN, UNKNOWN, PUBLIC, PUBLIC, PUBLIC)
    # ... until the pending TTL (60 s) has passed since the newest forgotten sighting.
    assert tracker.on_block(_block(11, 80, _tx("0x10"))).tx_private == (UNKNOWN,)
    assert tracker.on_block(_block(12, 82, _tx("0x11"))).tx_private == (PRIVATE,)


def test_findings_carry_each_legs_private_status_and_the_block_share() -> None:
    # Block 12775690's sandwich (mev-inspect-py's reference): frontrun private, victim public.
    block = fixture_block(12775690)
    hashes = list(dict.fromkeys(t.tx_hash for t in block.traces if t.tx_hash))
    [sandwich] = [d for d in detect_block(block) if d.kind == "sandwich"]
    front, *victims, back = sandwich.tx_hashes
    assert sandwich.data["frontrun"]["private"] == UNKNOWN  # a block never annotated
    status = {h: PUBLIC for h in hashes} | {front: PRIVATE, back: PRIVATE}
    marked = annotated(msgspec.structs.replace(block, tx_hashes=tuple(hashes)), status)
    found = {d.kind: d for d in detect_block(marked)}
    data = found["sandwich"].data
    assert (data["frontrun"]["private"], data["backrun"]["private"]) == (PRIVATE, PRIVATE)
    assert [v["private"] for v in data["victims"]] == [PUBLIC] * len(victims)
    flow = found["private_flow"]
    assert flow.key == f"1:private_flow:12775690:{block.hash}:root"
    assert (flow.data["private"], flow.data["public"]) == (2, len(hashes) - 2)
    assert flow.data["mev"]["private"] >= 2
    assert flow.data["mev"]["private_share"] == flow.data["mev"]["private"] / flow.data["mev_txs"]
    assert set(flow.tx_hashes) == {front, back}
