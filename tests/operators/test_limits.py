"""Every limit of operators/LIMITS.md, gone over: a dead letter with its reason, or an eviction
counted in ``scorpius_state_evictions``."""

from __future__ import annotations

import json
from collections.abc import Sequence

import msgspec
import pytest
from prometheus_client import REGISTRY

from connectors.kafka import fitted_message
from flows.config import LimitsConfig, load_config
from flows.wiring.operators import size_limits
from operators.dedup import SeenSet
from operators.inclusion import InclusionTracker, PendingSeen
from operators.mev.mempool import FrontrunCopyDetector, SandwichAttemptDetector
from operators.mev.mempool.predictions import SandwichPredictions
from operators.mev.mempool.reserves import ReservesAtHead
from operators.normalize import SizeLimits, normalize_item
from operators.records import Block, DeadLetter, Detection, EnrichedTx, RawItem, Tx
from tests.operators.mev.pending import enriched, pending


def evictions(stage: str, limit: str) -> float:
    value = REGISTRY.get_sample_value(
        "scorpius_state_evictions_total", {"stage": stage, "limit": limit}
    )
    return value or 0.0


def rpc_tx(calldata_bytes: int, padding: int = 0) -> bytes:
    obj = {
        "hash": "0x" + "11" * 32,
        "from": "0x" + "22" * 20,
        "to": "0x" + "33" * 20,
        "nonce": "0x1",
        "value": "0x0",
        "gas": "0x5208",
        "gasPrice": "0x1",
        "type": "0x0",
        "input": "0x" + "ab" * calldata_bytes,
        "padding": "x" * padding,
    }
    return json.dumps(obj).encode()


def only_letter(records: Sequence[object]) -> DeadLetter:
    [letter] = records
    assert isinstance(letter, DeadLetter)
    return letter


# --- sizes of what a source delivers -------------------------------------------------------------


def test_limits_are_read_from_the_environment() -> None:
    cfg = load_config(
        {
            "SCORPIUS_LIMITS_MAX_TX_PAYLOAD_BYTES": "1000",
            "SCORPIUS_LIMITS_MAX_BLOCK_PAYLOAD_BYTES": "2000",
            "SCORPIUS_LIMITS_MAX_CALLDATA_BYTES": "300",
            "SCORPIUS_LIMITS_DEAD_LETTER_PAYLOAD_BYTES": "50",
            "SCORPIUS_DETECT_SANDWICH_MAX_PENDING": "7",
            "SCORPIUS_DETECT_FRONTRUN_MAX_ORIGINALS": "8",
            "SCORPIUS_DETECT_RESERVES_MAX_POOLS": "9",
            "SCORPIUS_DETECT_PREDICTION_MAX_VICTIMS": "10",
            "SCORPIUS_ALERTS_DEDUP_MAX_KEYS": "11",
        }
    )
    assert size_limits(cfg.limits) == SizeLimits(1000, 2000, 300, 50)
    detect = cfg.detect
    assert (
        detect.sandwich_max_pending,
        detect.frontrun_max_originals,
        detect.reserves_max_pools,
        detect.prediction_max_victims,
        cfg.alerts.dedup_max_keys,
    ) == (7, 8, 9, 10, 11)


def test_tx_payload_over_the_limit_is_a_dead_letter_cut_to_its_own_limit() -> None:
    limits = size_limits(LimitsConfig(max_tx_payload_bytes=1000, dead_letter_payload_bytes=100))
    payload = rpc_tx(10, padding=2000)
    letter = only_letter(normalize_item(RawItem("tx", 1, "s", 5, payload), limits))
    assert letter.reason.startswith(f"payload too large: {len(payload)} bytes > 1000")
    assert f"(payload cut to 100 of {len(payload)} bytes)" in letter.reason
    assert letter.payload == payload[:100].decode()


def test_block_payload_over_the_limit_is_a_dead_letter() -> None:
    limits = size_limits(LimitsConfig(max_block_payload_bytes=64))
    payload = json.dumps({"block": {"number": "0x1", "pad": "y" * 100}}).encode()
    letter = only_letter(normalize_item(RawItem("block", 1, "s", 5, payload), limits))
    assert letter.reason.startswith("payload too large:") and "> 64" in letter.reason


def test_calldata_limit_is_configurable_both_ways() -> None:
    small = size_limits(LimitsConfig(max_calldata_bytes=100))
    letter = only_letter(normalize_item(RawItem("tx", 1, "s", 5, rpc_tx(101)), small))
    assert letter.reason == "data too large in field 'input': 101 bytes > 100"
    [tx] = normalize_item(RawItem("tx", 1, "s", 5, rpc_tx(100)), small)
    assert isinstance(tx, Tx)
    # Past the default (512 KiB) once a user raises it (a rollup's batch-posting txs).
    big = size_limits(LimitsConfig(max_calldata_bytes=1 << 20, max_tx_payload_bytes=4 << 20))
    over_default = (512 << 10) + 1
    assert isinstance(normalize_item(RawItem("tx", 1, "s", 5, rpc_tx(over_default)))[0], DeadLetter)
    [tx] = normalize_item(RawItem("tx", 1, "s", 5, rpc_tx(over_default)), big)
    assert isinstance(tx, Tx) and len(tx.input) == 2 + 2 * over_default


def test_calldata_limit_holds_for_txs_inside_a_block() -> None:
    small = size_limits(LimitsConfig(max_calldata_bytes=10))
    tx = json.loads(rpc_tx(11))
    bundle = {"block": {"number": "0x1", "timestamp": "0x2", "transactions": [tx]}}
    block, letter = normalize_item(RawItem("block", 1, "s", 5, json.dumps(bundle).encode()), small)
    assert isinstance(block, Block) and block.txs == ()
    assert isinstance(letter, DeadLetter)
    assert letter.reason == "bad tx in block: data too large in field 'input': 11 bytes > 10"


def test_kafka_dead_letter_over_max_message_bytes_is_cut_to_fit() -> None:
    letter = DeadLetter(
        "normalize", "payload too large: 3000000 bytes > 2097152", "\x01" * 3_000_000
    )
    msg = fitted_message(letter, 1 << 20, "dead_letters")
    assert msg is not None
    assert len(msg.value) + 1024 <= 1 << 20
    sent = msgspec.json.decode(msg.value, type=DeadLetter)
    assert sent.reason.startswith("payload too large: 3000000 bytes")
    assert "chars for Kafka)" in sent.reason
    assert sent.payload == letter.payload[: len(sent.payload)]


def test_kafka_other_record_over_max_message_bytes_is_not_produced_but_counted() -> None:
    tx = pending("0x" + "11" * 32, "0x" + "22" * 20, None, "0x" + "ab" * 4000)
    before = REGISTRY.get_sample_value("scorpius_sink_errors_total", {"sink": "kafka:tx_enriched"})
    assert fitted_message(enriched(tx), 4096, "tx_enriched") is None
    after = REGISTRY.get_sample_value("scorpius_sink_errors_total", {"sink": "kafka:tx_enriched"})
    assert after == (before or 0.0) + 1
    assert fitted_message(enriched(tx), 1 << 20, "tx_enriched") is not None


# --- state per key and window -------------------------------------------------------------------


def _spam(n: int, target: str | None = "0x" + "bc" * 20) -> list[EnrichedTx]:
    return [
        enriched(
            pending(
                f"0x{i:064x}",
                "0x" + f"{i % 7 + 1:02x}" * 20,
                target,
                "0x12345678" + f"{i:064x}",
                tip=i,
                seen_ms=i,
            )
        )
        for i in range(n)
    ]


def test_sandwich_attempt_window_forgets_the_earliest_txs_over_its_cap() -> None:
    before = evictions("sandwich_attempt", "max_pending")
    detector = SandwichAttemptDetector(max_pending=50)
    stream = _spam(60)
    for etx in stream:
        detector.on_tx(etx)
    assert list(detector.arrived) == [e.tx.hash for e in stream[10:]]
    held = {p.etx.tx.hash for txs in detector.by_group.values() for p in txs}
    assert held == set(detector.arrived)
    assert evictions("sandwich_attempt", "max_pending") - before == 10


def test_frontrun_window_forgets_the_earliest_shapes_over_its_cap() -> None:
    before = evictions("frontrun_copy", "max_originals")
    detector = FrontrunCopyDetector(max_originals=20)
    for etx in _spam(30):
        detector.on_tx(etx)
    # Each tx records its exact and its sender-generic calldata shape (the same here).
    assert len(detector.originals) == 20
    assert evictions("frontrun_copy", "max_originals") - before == 10


def test_reserves_cache_forgets_the_earliest_pool_over_its_cap() -> None:
    before = evictions("quote", "max_pools")
    cache = ReservesAtHead(max_pools=3)
    asked: list[str] = []

    def fetch(chain_id: int, pool: str, block: int | None) -> tuple[int, int]:
        asked.append(pool)
        return (1, 2)

    lookup = cache.lookup(fetch)
    for pool in ["0xa", "0xb", "0xc", "0xd", "0xa"]:
        lookup(1, pool)
    assert list(cache.cache) == ["0xc", "0xd", "0xa"]
    assert asked == ["0xa", "0xb", "0xc", "0xd", "0xa"]  # 0xa was forgotten, so asked again
    assert evictions("quote", "max_pools") - before == 2


def _attempt(i: int) -> Detection:
    return Detection(
        key=f"1:sandwich_attempt:{i}",
        kind="sandwich_attempt",
        chain_id=1,
        tx_hashes=(f"0xf{i}", f"0xv{i}", f"0xb{i}"),
        first_seen_ms=i,
        detected_ms=i,
    )


def test_prediction_linker_without_blocks_stays_within_its_cap() -> None:
    before = evictions("predicted", "max_alert_victims")
    linker = SandwichPredictions(horizon_ms=1_000, max_victims=100)
    for i in range(250):  # no block ever arrives, so nothing ages out
        linker.on_detection(_attempt(i))
    assert len(linker.alerts) == 100
    assert "0xv249" in linker.alerts and "0xv149" not in linker.alerts
    assert evictions("predicted", "max_alert_victims") - before == 150


def test_dedup_set_over_its_cap_counts_what_it_forgets() -> None:
    before = evictions("dedup", "max_per_shard")
    seen = SeenSet(ttl_ms=10**9, max_entries=5)
    for i in range(8):
        assert seen.first_sighting((1, f"0x{i}"), i, "a") is None
    assert len(seen) == 5
    assert seen.first_sighting((1, "0x0"), 9, "a") is None  # forgotten: passes again
    assert evictions("dedup", "max_per_shard") - before == 4


def test_inclusion_tracker_over_its_cap_expires_and_counts_the_earliest() -> None:
    before = evictions("inclusion", "max_pending")
    tracker = InclusionTracker(1, pending_ttl_ms=10**9, max_pending=3, reorg_depth=4)
    out = []
    for i in range(5):
        out += tracker.on_sighting(PendingSeen(1, f"0x{i}", i, "a"))
    assert [(r.tx_hash, r.status) for r in out] == [("0x0", "expired"), ("0x1", "expired")]
    assert tracker.pending_count == 3
    assert evictions("inclusion", "max_pending") - before == 2


@pytest.mark.parametrize("cap", [1, 4])
def test_replacement_cap_is_the_configured_one(cap: int) -> None:
    from operators.replacement import ReplacementTracker

    tracker = ReplacementTracker(max_nonces=cap)
    for nonce in range(10):
        tx = msgspec.structs.replace(
            pending(f"0x{nonce:064x}", "0x" + "aa" * 20, None, tip=1), nonce=nonce
        )
        tracker.on_tx(enriched(tx), 0)
    assert sorted(tracker.by_nonce) == list(range(10 - cap, 10))
