from __future__ import annotations

import pickle
import zlib

import msgspec

from operators.buckets import BUCKETS, address_bucket
from operators.records import EnrichedTx, Tx
from operators.replacement import ReplacementTracker, SenderBucket, sender_key

SENDER = "0x" + "ab" * 20


def etx(
    hash_byte: str,
    nonce: int | None,
    fee: int,
    seen_ms: int,
    *,
    to: str = "0x" + "cd" * 20,
    input_: str = "0xa9059cbb",
    block: int | None = None,
    tip: int | None = None,
    tx_type: int = 2,
) -> EnrichedTx:
    tx = Tx(
        chain_id=1,
        hash="0x" + hash_byte * 32,
        sender=SENDER,
        to=to,
        nonce=nonce,
        value=0,
        gas=60_000,
        tx_type=tx_type,
        input=input_,
        selector=input_[:10] if len(input_) >= 10 else None,
        first_seen_ms=seen_ms,
        source="test",
        max_fee_per_gas=fee,
        max_priority_fee_per_gas=tip if tip is not None else fee // 10,
        block_number=block,
    )
    return EnrichedTx(tx=tx, kind="other")


def test_speed_up_reports_both_hashes_bump_and_delay() -> None:
    tracker = ReplacementTracker(min_fee_bump=0.10)
    assert tracker.on_tx(etx("01", 7, 100, 1_000), now_ms=1) == []
    (det,) = tracker.on_tx(etx("02", 7, 125, 4_500), now_ms=2)
    assert det.kind == "replacement"
    assert det.tx_hashes == ("0x" + "01" * 32, "0x" + "02" * 32)
    assert det.data["old_fee_cap"] == 100 and det.data["new_fee_cap"] == 125
    assert det.data["fee_bump"] == 0.25
    assert det.data["ms_between"] == 3_500
    assert det.data["subtype"] == "replacement"
    assert det.first_seen_ms == 1_000


def test_underpriced_bump_is_not_a_replacement() -> None:
    tracker = ReplacementTracker(min_fee_bump=0.10)
    tracker.on_tx(etx("01", 7, 100, 1_000), now_ms=1)
    assert tracker.on_tx(etx("02", 7, 109, 2_000), now_ms=2) == []


def test_other_nonce_same_hash_and_mined_txs_are_ignored() -> None:
    tracker = ReplacementTracker()
    tracker.on_tx(etx("01", 7, 100, 1_000), now_ms=1)
    assert tracker.on_tx(etx("02", 8, 500, 2_000), now_ms=2) == []
    assert tracker.on_tx(etx("01", 7, 100, 3_000), now_ms=3) == []
    assert tracker.on_tx(etx("03", 7, 900, 3_000, block=5), now_ms=4) == []
    assert tracker.on_tx(etx("04", None, 900, 3_000), now_ms=5) == []


def test_repeated_bumps_become_a_gas_war() -> None:
    tracker = ReplacementTracker()
    tracker.on_tx(etx("01", 3, 100, 1_000), now_ms=1)
    (first,) = tracker.on_tx(etx("02", 3, 120, 2_000), now_ms=2)
    (second,) = tracker.on_tx(etx("03", 3, 150, 3_000), now_ms=3)
    assert first.data["subtype"] == "replacement" and first.data["rounds"] == 1
    assert second.data["subtype"] == "gas_war" and second.data["rounds"] == 2
    assert second.tx_hashes == ("0x" + "02" * 32, "0x" + "03" * 32)


def test_cancellation_is_a_self_transfer_without_data() -> None:
    tracker = ReplacementTracker()
    tracker.on_tx(etx("01", 3, 100, 1_000), now_ms=1)
    (det,) = tracker.on_tx(etx("02", 3, 200, 2_000, to=SENDER, input_="0x"), now_ms=2)
    assert det.data["subtype"] == "cancellation"
    assert det.severity == "medium"


def test_out_of_order_arrival_keeps_roles_by_first_seen_time() -> None:
    tracker = ReplacementTracker()
    tracker.on_tx(etx("02", 3, 150, 5_000), now_ms=1)
    (det,) = tracker.on_tx(etx("01", 3, 100, 1_000), now_ms=2)
    assert det.tx_hashes == ("0x" + "01" * 32, "0x" + "02" * 32)
    assert det.data["ms_between"] == 4_000


def test_merge_keeps_the_latest_tx_per_nonce() -> None:
    a, b = ReplacementTracker(), ReplacementTracker()
    a.on_tx(etx("01", 3, 100, 1_000), now_ms=1)
    b.on_tx(etx("02", 3, 200, 2_000), now_ms=1)
    a.merge(b)
    assert a.by_nonce[3].hash == "0x" + "02" * 32


def test_system_txs_are_never_replacements() -> None:
    tracker = ReplacementTracker()
    for tx_type in (0x6A, 0x7E, 0x64):
        tracker.on_tx(etx("01", 0, 100, 1_000, tx_type=tx_type), now_ms=1)
        assert tracker.on_tx(etx("02", 0, 500, 2_000, tx_type=tx_type), now_ms=2) == []


def from_sender(sender: str, item: EnrichedTx) -> EnrichedTx:
    return EnrichedTx(tx=msgspec.structs.replace(item.tx, sender=sender), kind=item.kind)


def test_a_bucket_keeps_senders_apart() -> None:
    bucket = SenderBucket()
    other = "0x" + "ef" * 20
    bucket.on_tx(etx("01", 7, 100, 1_000), now_ms=1)
    # the same nonce from another sender is not a replacement
    assert bucket.on_tx(from_sender(other, etx("02", 7, 200, 2_000)), now_ms=2) == []
    (det,) = bucket.on_tx(etx("03", 7, 150, 3_000), now_ms=3)
    assert det.tx_hashes == ("0x" + "01" * 32, "0x" + "03" * 32)
    assert set(bucket.trackers) == {SENDER, other}


def test_a_sender_idle_for_the_window_is_forgotten() -> None:
    bucket = SenderBucket(window_ms=10_000)
    bucket.on_tx(etx("01", 7, 100, 1_000), now_ms=1)
    other = "0x" + "ef" * 20
    bucket.on_tx(from_sender(other, etx("02", 1, 100, 20_000)), now_ms=2)
    assert list(bucket.trackers) == [other]
    # so the same nonce again, after the window, starts afresh instead of replacing
    assert bucket.on_tx(etx("03", 7, 150, 21_000), now_ms=3) == []


def test_senders_over_the_cap_go_least_recently_active_first() -> None:
    bucket = SenderBucket(max_senders=3)
    senders = ["0x" + f"{n:040x}" for n in range(5)]
    for n, sender in enumerate(senders):
        bucket.on_tx(from_sender(sender, etx(f"{n:02x}", 1, 100, 1_000 + n)), now_ms=n)
    assert list(bucket.trackers) == senders[2:]


def test_merged_buckets_keep_every_sender_in_activity_order() -> None:
    a, b = SenderBucket(), SenderBucket()
    other = "0x" + "ef" * 20
    a.on_tx(etx("01", 7, 100, 1_000), now_ms=1)
    b.on_tx(from_sender(other, etx("02", 1, 100, 500)), now_ms=2)
    b.on_tx(etx("03", 8, 100, 2_000), now_ms=3)
    a.merge(b)
    assert list(a.trackers) == [other, SENDER]
    assert sorted(a.trackers[SENDER].by_nonce) == [7, 8]
    (det,) = a.on_tx(etx("04", 7, 150, 3_000), now_ms=4)
    assert det.tx_hashes[0] == "0x" + "01" * 32


def test_window_keys_are_a_few_buckets_per_chain_and_the_same_in_every_process() -> None:
    keys = {sender_key(from_sender("0x" + f"{n:040x}", etx("01", 1, 1, 1))) for n in range(5000)}
    assert len(keys) == BUCKETS
    assert all(k.startswith("1:") for k in keys)
    # crc32, not hash(): bytewax routes by the key's text, so it must not depend on the process
    assert address_bucket(1, SENDER) == address_bucket(1, SENDER.upper().replace("0X", "0x"))
    assert address_bucket(1, SENDER) == "1:" + str(zlib.crc32(SENDER.encode()) % BUCKETS)


def test_a_mined_nonce_and_those_below_it_leave_the_state() -> None:
    bucket = SenderBucket()
    for n, nonce in enumerate((5, 6, 7)):
        bucket.on_tx(etx(f"0{n}", nonce, 100, 1_000 + n), now_ms=n)
    bucket.on_tx(etx("00", 6, 100, 9_000, block=20), now_ms=4)
    assert sorted(bucket.trackers[SENDER].by_nonce) == [7]
    # A higher fee at a mined nonce is no replacement: nodes refuse a nonce that is too low.
    assert bucket.on_tx(etx("0a", 6, 200, 10_000), now_ms=5) == []
    (det,) = bucket.on_tx(etx("0b", 7, 200, 10_000), now_ms=6)
    assert det.tx_hashes == ("0x" + "02" * 32, "0x" + "0b" * 32)


def test_a_nonce_pending_longer_than_the_window_is_forgotten() -> None:
    # The sender stays active (new nonces), but its stuck nonce 1 ages out of the window.
    bucket = SenderBucket(window_ms=10_000)
    bucket.on_tx(etx("01", 1, 100, 1_000), now_ms=1)
    bucket.on_tx(etx("02", 2, 100, 8_000), now_ms=2)
    bucket.on_tx(etx("03", 3, 100, 15_000), now_ms=3)
    assert sorted(bucket.trackers[SENDER].by_nonce) == [2, 3]


def test_the_state_keeps_a_digest_of_the_calldata_not_the_calldata() -> None:
    def pickled_size(calldata: str) -> int:
        tracker = ReplacementTracker()
        tracker.on_tx(etx("01", 7, 100, 1_000, input_=calldata), now_ms=1)
        return len(pickle.dumps(tracker))

    data = "0xa9059cbb" + "00" * 64
    # Bytewax pickles the window state at every epoch: its size must not follow the calldata.
    assert pickled_size(data + "ff" * 2_000) == pickled_size(data)
    tracker = ReplacementTracker()
    tracker.on_tx(etx("01", 7, 100, 1_000, input_=data), now_ms=1)
    (same,) = tracker.on_tx(etx("02", 7, 200, 2_000, input_=data), now_ms=2)
    (other,) = tracker.on_tx(etx("03", 7, 300, 3_000, input_=data + "01"), now_ms=3)
    assert same.data["same_calldata"] is True and other.data["same_calldata"] is False
