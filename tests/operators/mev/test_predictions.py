"""The inclusion link: a block's sandwich matched to the mempool alerts that predicted it."""

from __future__ import annotations

import msgspec

from operators.mev import detect_block
from operators.mev.mempool import SandwichAttemptDetector
from operators.mev.mempool.predictions import SandwichPredictions
from operators.records import Detection
from tests.operators.mev.conftest import block
from tests.operators.mev.pending import replayed

BLOCK = 12775690  # one frontrun and backrun around four victims


def _alerts_and_sandwich() -> tuple[list[Detection], Detection]:
    """The attempts the mempool detector raises on the block's txs replayed as pending (first
    seen 12 s before the block), alerted 100 ms after their last tx, and the block's sandwich."""
    mined = msgspec.structs.replace(block(BLOCK), first_seen_ms=block(BLOCK).timestamp * 1000)
    top = [t for t in mined.traces if t.trace_address == () and t.tx_hash]
    detector = SandwichAttemptDetector()
    attempts = [
        d
        for etx in replayed(top, start_ms=mined.first_seen_ms - 12_000)
        for d in detector.on_tx(etx, now_ms=etx.tx.first_seen_ms + 100)
    ]
    [sandwich] = [d for d in detect_block(mined) if d.kind == "sandwich"]
    return attempts, sandwich


def _sandwichable(victim: str, first_seen_ms: int, detected_ms: int) -> Detection:
    return Detection(
        key=f"1:sandwichable:{victim}:0",
        kind="sandwichable_victim",
        chain_id=1,
        tx_hashes=(victim,),
        first_seen_ms=first_seen_ms,
        detected_ms=detected_ms,
        data={"extractable_profit": 12345},
    )


def test_every_predicted_victim_is_linked_with_its_lead_time() -> None:
    attempts, sandwich = _alerts_and_sandwich()
    assert len(attempts) == 4
    linker = SandwichPredictions()
    assert [d for a in attempts for d in linker.on_detection(a)] == []
    links = linker.on_detection(sandwich)
    front = sandwich.data["frontrun"]["tx_hash"]
    back = sandwich.data["backrun"]["tx_hash"]
    victims = [v["tx_hash"] for v in sandwich.data["victims"]]
    assert sorted(link.data["victim"] for link in links) == sorted(victims)
    by_victim = {a.tx_hashes[1]: a for a in attempts}
    for link in links:
        alert = by_victim[link.data["victim"]]
        assert link.kind == "sandwich_predicted"
        assert link.tx_hashes == (front, link.data["victim"], back)
        assert link.block_number == BLOCK
        assert link.data["alert"] == alert.key
        assert link.data["sandwich"] == sandwich.key
        assert link.data["alert_lead_ms"] == sandwich.first_seen_ms - alert.detected_ms > 0
        assert link.data["pending_lead_ms"] == sandwich.first_seen_ms - alert.first_seen_ms
        assert link.data["profit_amount"] == sandwich.data["profit_amount"]
    # The same block again (another URL, a recovery replay): no second link.
    assert linker.on_detection(sandwich) == []


def test_the_link_does_not_depend_on_which_side_arrives_first() -> None:
    attempts, sandwich = _alerts_and_sandwich()
    alerts_first, block_first = SandwichPredictions(), SandwichPredictions()
    one = [d for a in [*attempts, sandwich] for d in alerts_first.on_detection(a)]
    two = [d for a in [sandwich, *attempts] for d in block_first.on_detection(a)]
    assert sorted(one, key=lambda d: d.key) == sorted(two, key=lambda d: d.key)
    assert len(one) == 4


def test_both_alert_kinds_give_their_own_link_and_another_pair_gives_none() -> None:
    attempts, sandwich = _alerts_and_sandwich()
    victim = attempts[0].tx_hashes[1]
    linker = SandwichPredictions()
    # An attempt on the same victim by other txs did not happen in the block: no link.
    other = msgspec.structs.replace(
        attempts[0], key="other", tx_hashes=("0xother_front", victim, "0xother_back")
    )
    linker.on_detection(other)
    flagged = _sandwichable(victim, attempts[0].first_seen_ms, attempts[0].first_seen_ms + 5)
    linker.on_detection(flagged)
    linker.on_detection(attempts[0])
    links = linker.on_detection(sandwich)
    assert {link.data["predicted_by"] for link in links} == {
        "sandwich_attempt",
        "sandwichable_victim",
    }
    assert {link.data["alert"] for link in links} == {attempts[0].key, flagged.key}
    [by_victim_alert] = [link for link in links if link.data["predicted_by"] != "sandwich_attempt"]
    assert by_victim_alert.data["predicted_profit"] == 12345


def test_alerts_are_forgotten_once_blocks_are_a_horizon_past_them() -> None:
    attempts, sandwich = _alerts_and_sandwich()
    linker = SandwichPredictions(horizon_ms=60_000)
    for attempt in attempts:
        linker.on_detection(attempt)
    later = msgspec.structs.replace(
        sandwich,
        key="1:sandwich:later",
        block_number=BLOCK + 100,
        first_seen_ms=sandwich.first_seen_ms + 120_000,
        data={**sandwich.data, "victims": [], "frontrun": {"tx_hash": "0xf"}},
    )
    linker.on_detection(later)
    assert linker.alerts == {}
    # The block of those alerts arriving now finds nothing left to link.
    assert linker.on_detection(sandwich) == []
