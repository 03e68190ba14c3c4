"""The Time Machine's promise: replaying the archive through the detectors finds what the live
run found. The live run archives its transactions and detects; the replay reads the archive back
through the same enrich and detection stages of the flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.archive_replay import ArchiveReplaySource
from connectors.delta_archive import DeltaArchiveSink
from flows.config import DetectConfig, EnrichConfig
from flows.steps.archive import archive
from flows.steps.normalize import enrich_stage
from flows.steps.windows import mempool_detect
from operators.records import Detection, Tx
from tests.connectors.samples import T0_MS

GWEI = 10**9


def pending(sender: int, nonce: int, fee_gwei: int, seen_ms: int, tag: int = 0) -> Tx:
    return Tx(
        chain_id=1,
        hash=f"0x{sender:016x}{nonce:016x}{fee_gwei:016x}{tag:016x}",
        sender=f"0x{sender:040x}",
        to=f"0x{0xBEEF:040x}",
        nonce=nonce,
        value=10**18,
        gas=21_000,
        tx_type=2,
        input="0x",
        selector=None,
        first_seen_ms=seen_ms,
        source="test",
        max_fee_per_gas=fee_gwei * GWEI,
        max_priority_fee_per_gas=GWEI,
    )


# Three senders: a speed-up, a gas war of three bids, an underpriced (ignored) bump, and noise.
LIVE_TXS = [
    pending(1, 5, 20, T0_MS),
    pending(2, 9, 30, T0_MS + 100),
    pending(1, 5, 30, T0_MS + 4_000),  # speed-up
    pending(3, 1, 50, T0_MS + 5_000),
    pending(2, 9, 40, T0_MS + 6_000),  # gas war, bid 2
    pending(3, 1, 52, T0_MS + 7_000),  # +4%: nodes reject it, no detection
    pending(2, 9, 60, T0_MS + 9_000),  # gas war, bid 3
    *(pending(100 + i, 0, 25, T0_MS + 10 * i) for i in range(20)),
]


def detect(flow: Dataflow, txs: Stream[Tx], out: list[Detection]) -> None:
    etxs = enrich_stage("enrich", txs, EnrichConfig())
    found = mempool_detect("mempool", etxs, DetectConfig())
    op.output("detections", found.oks, TestingSink(out))


def facts(detections: list[Detection]) -> set[tuple[Any, ...]]:
    # detected_ms is wall-clock time of the run; everything else must match.
    return {
        (d.key, d.kind, d.chain_id, d.tx_hashes, d.first_seen_ms, d.severity) for d in detections
    }


def test_replaying_the_archive_finds_the_live_detections(tmp_path: Path) -> None:
    live: list[Detection] = []
    flow = Dataflow("live")
    txs = op.input("source", flow, TestingSource(LIVE_TXS))
    archive("archive", txs, DeltaArchiveSink(str(tmp_path), "transactions"))
    detect(flow, txs, live)
    run_main(flow)

    replayed: list[Detection] = []
    flow = Dataflow("replay")
    detect(
        flow, op.input("source", flow, ArchiveReplaySource(str(tmp_path), progress=False)), replayed
    )
    run_main(flow)

    assert len(live) == 3  # the speed-up and two gas-war bids
    assert facts(replayed) == facts(live)
