"""bench/bench_e2e.py works: its load is what the ingest job writes, and a tiny run adds up.

These check that the bench measures what it says, not how fast anything is (the bench prints that).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bytewax.connectors.kafka import KafkaSourceMessage

from bench.bench_e2e import format_table, run_scaling, run_step
from bench.e2e_workload import Workload, lap_sender, load_sample
from connectors.kafka import HEADER_CHAIN_ID, HEADER_SEEN_MS, decode_raw
from operators.normalize import normalize_item
from operators.records import RawItem, Tx


def test_every_message_is_a_new_pending_tx_that_names_its_seq() -> None:
    txs = load_sample()
    workload = Workload(txs, tag=0xABCDEF01)
    laps = [0, 1, len(txs), len(txs) + 1, 5 * len(txs) + 7]
    normalized = []
    for seq in laps:
        msg = workload.message(seq, seen_ms=1_700_000_000_000 + seq)
        headers = dict(msg.headers)
        assert msg.key == workload.tx_hash(seq).encode()
        assert headers[HEADER_SEEN_MS] == str(1_700_000_000_000 + seq).encode()
        assert int(headers[HEADER_CHAIN_ID]) == txs[seq % len(txs)].chain_id
        (tx,) = normalize_item(RawItem("tx", txs[seq % len(txs)].chain_id, "t", 1, msg.value))
        assert isinstance(tx, Tx) and tx.block_number is None
        assert workload.seq_of(tx.hash) == seq
        normalized.append(tx)
    # The same sample tx in another lap: the same call, nonce and fees from a sender of that lap.
    first, again, later = normalized[0], normalized[2], normalized[4]
    assert (again.input, again.nonce, again.tip_cap) == (first.input, first.nonce, first.tip_cap)
    assert again.sender == lap_sender(first.sender, 1) != first.sender
    assert later.sender == lap_sender(txs[7].fields["from"].lower(), 5)
    assert workload.seq_of("0x" + "00" * 32) is None


def test_the_kafka_source_reads_the_messages_as_sent() -> None:
    workload = Workload(load_sample(), tag=7)
    msg = workload.message(3, seen_ms=1_700_000_000_123)

    consumed: KafkaSourceMessage[bytes | None, bytes | None] = KafkaSourceMessage(
        key=msg.key, value=msg.value, topic="tx_raw", headers=list(msg.headers)
    )
    item = decode_raw(consumed)
    assert isinstance(item, RawItem)
    assert (item.kind, item.seen_ms, item.source) == ("tx", 1_700_000_000_123, "bench:e2e")


@pytest.mark.service
@pytest.mark.slow
def test_a_tiny_run_accounts_for_every_tx(kafka_bootstrap: str, tmp_path: Path) -> None:
    step = run_step(kafka_bootstrap, tmp_path, rate=100, seconds=4, drain=120, verify=True)
    assert step.sent > 0
    assert step.done > 0 and step.done_rate > 0
    # Drained: every sent tx reached tx_enriched, none was refused.
    assert step.left == 0
    assert step.unaccounted == 0
    assert step.dead_letters == 0
    # Alerts of the sample's rules and detectors, measured against their txs' send times.
    assert step.latencies_ms
    assert all(latency >= 0 for latency in step.latencies_ms)
    assert step.percentile(50) <= step.percentile(99)
    assert step.peak_rss_mb > 0

    scaling = run_scaling(kafka_bootstrap, tmp_path, messages=600, partitions=2)
    assert set(scaling.steady) == {
        "1 process x 1 worker",
        "1 process x 2 workers",
        "2 processes x 1 worker",
    }
    assert all(rate > 0 for rate in scaling.steady.values())
    assert math.isfinite(scaling.ratio) and scaling.ratio > 0

    table = format_table([step], scaling)
    row = table.splitlines()[2]
    assert row.startswith(f"| 100 | {step.sent_rate:,.0f} | {step.done_rate:,.0f} | ")
    assert f"{scaling.ratio:.2f}x" in table
