"""Fault (a): one of two bytewax processes is SIGKILLed mid-stream, the cluster resumes from recovery.

Kafka ``tx_raw`` (4 partitions) → decode → normalize → enrich → keyed replacement state → Kafka
``tx_enriched``, ``mev_bundles`` and dead letters, as two processes of one worker each
(tests/connectors/kafka_workload.py, the multi-process test's flow and workload). Process 1 is
killed with SIGKILL while input is still arriving; process 0 is left alone to show what a
survivor does (its peer is gone: it must end, not hang, so an orchestrator can restart it). Both
then restart from the bytewax recovery directory and read to the end of the topic.

What went in: every message's identity (tx hash, or the dead letter it must become); what came
out: the identities in the output topics, and every replacement finding by ``Detection.key``.
Kafka keeps what the killed epoch had already written, so the resumed run repeats it
(at-least-once): those repeats are counted, then removed by message key as a consumer (or a
compacted topic) does. After that nothing may be missing and nothing doubled.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.connectors.kafka_workload import make_workload, produce
from tests.connectors.test_kafka_cluster import (
    Cluster,
    _outputs,
    _topic_size,
    _topics,
    _wait_for_size,
    recovery_dir,
)
from tests.faults.accounting import tally

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.fault]

MESSAGES = 20_000
SURVIVOR_GRACE_S = 60.0


def test_a_sigkilled_worker_process_resumes_from_recovery_without_loss(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = _topics(kafka_bootstrap)
    workload = make_workload(MESSAGES, seed=23)
    messages = workload.messages
    quarter = len(messages) // 4
    good_in_quarter = sum(m.expect == "tx" for m in messages[:quarter])
    good = sum(m.expect == "tx" for m in messages)
    recovery = recovery_dir(tmp_path)

    produce(kafka_bootstrap, topics.raw, messages[:quarter])
    cluster = Cluster(topics.env(kafka_bootstrap, tail=True), tmp_path, recovery)
    _wait_for_size(kafka_bootstrap, topics.enriched, good_in_quarter)
    # The rest arrives while the flow runs; process 1 dies in the middle of it.
    producing = threading.Thread(
        target=produce, args=(kafka_bootstrap, topics.raw, messages[quarter:])
    )
    producing.start()
    _wait_for_size(kafka_bootstrap, topics.enriched, good_in_quarter + 1000)
    victim, survivor = cluster.procs[1], cluster.procs[0]
    victim.kill()  # SIGKILL: no snapshot, no flush, no goodbye to the peer
    victim.wait(timeout=30)
    killed_at = time.monotonic()
    done_at_kill = _topic_size(kafka_bootstrap, topics.enriched, 2)
    try:
        survivor_code: int | None = survivor.wait(timeout=SURVIVOR_GRACE_S)
    except subprocess.TimeoutExpired:
        survivor_code = None
        survivor.kill()
        survivor.wait(timeout=30)
    survivor_s = time.monotonic() - killed_at
    producing.join()
    assert done_at_kill < good, "the kill did not land mid-stream"
    written_first = sum(
        _topic_size(kafka_bootstrap, name, 2)
        for name in (topics.enriched, topics.bundles, topics.dead)
    )

    Cluster(topics.env(kafka_bootstrap, tail=False), tmp_path, recovery).wait(timeout=240)

    outputs = _outputs(kafka_bootstrap, topics)
    print(
        f"\nprocess 1 SIGKILLed after {done_at_kill} of {good} txs; process 0 "
        + (
            f"exited by itself (code {survivor_code}) {survivor_s:.1f}s later"
            if survivor_code is not None
            else f"was still running {SURVIVOR_GRACE_S:.0f}s later and was killed"
        )
        + f"; the first run wrote {written_first} outputs"
    )
    expected = [m.identity for m in messages] + sorted(workload.detection_keys)
    raw = list(outputs.identities.elements()) + list(outputs.detections.elements())
    deduplicated = list(outputs.identities) + list(outputs.detections)
    result = tally("kafka worker process SIGKILL", expected, raw, deduplicated)
    # Resumed from a snapshot's offsets, not from the start.
    assert result.raw_repeats < written_first
    result.report_and_check()
    assert survivor_code is not None, "the surviving process hung after its peer died"
