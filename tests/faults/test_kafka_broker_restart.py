"""Fault (b): the Kafka broker restarts mid-stream under a running two-process flow.

The test owns its broker (``KafkaServer`` of tests/services/kafka.py in its own directory) so it
can restart it: a clean broker shutdown (SIGTERM), ``DOWN_S`` seconds down, then the same ports
and data again. The flow (tests/connectors/kafka_workload.py: tx_raw → normalize → enrich →
keyed replacement state → tx_enriched, mev_bundles, dead letters; two processes, bytewax recovery
on) tails ``tx_raw`` while a producer keeps writing to it across the restart.

The flow should ride the restart out: librdkafka reconnects its consumers, and the sinks' flush
waits for the broker's acknowledgements. If a process ends anyway, the test does what an
orchestrator does, restarts the cluster from recovery, and reports it; either way the outputs
must account for every input. Repeats (at-least-once) are removed by message key, as in (a).
Consumer errors that librdkafka reports while the broker is away are dead letters of their own
(``consume error: ...``, no input behind them): counted and shown, not part of the tally.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from operators.normalize import STAGE as NORMALIZE
from operators.records import DeadLetter
from tests.connectors.kafka_workload import Outgoing, make_workload, produce
from tests.connectors.test_kafka_cluster import (
    Cluster,
    Topics,
    _topic_size,
    _topics,
    recovery_dir,
)
from tests.faults.accounting import tally
from tests.services.kafka import (
    KafkaServer,
    message_key,
    message_value,
    read_topic,
    running_broker,
)

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.fault]

MESSAGES = 12_000
DOWN_S = 5.0
# The last three quarters arrive over about 15 s: before, during and after the restart.
CHUNK = 300
CHUNK_EVERY_S = 0.4


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaServer]:
    yield from running_broker(tmp_path / "kafka")


class Supervisor:
    """Keeps the cluster running as an orchestrator would: a process that ends is restarted,
    with its peer, from the recovery directory."""

    def __init__(self, env: dict[str, str], logs: Path, recovery: Path) -> None:
        self._start = lambda: Cluster(env, logs, recovery)
        self.cluster = self._start()
        self.restarts: list[list[int | None]] = []  # exit codes seen at each restart

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            codes = [proc.poll() for proc in self.cluster.procs]
            if any(code is not None for code in codes):
                self.cluster.kill()
                self.restarts.append(codes)
                self.cluster = self._start()
            time.sleep(0.2)


def produce_paced(bootstrap: str, topic: str, messages: list[Outgoing]) -> None:
    for start in range(0, len(messages), CHUNK):
        produce(bootstrap, topic, messages[start : start + CHUNK])
        time.sleep(CHUNK_EVERY_S)


def read_outputs(bootstrap: str, topics: Topics) -> tuple[list[str], list[str]]:
    """(every identity and detection key in the output topics, repeats included; the reasons of
    consume-error letters)."""
    keys = [message_key(m).decode() for m in read_topic(bootstrap, topics.enriched, timeout=120)]
    keys += [message_key(m).decode() for m in read_topic(bootstrap, topics.bundles, timeout=120)]
    consume_errors = []
    for msg in read_topic(bootstrap, topics.dead, timeout=120):
        letter = msgspec.json.decode(message_value(msg), type=DeadLetter)
        if letter.reason.startswith("consume error"):
            consume_errors.append(letter.reason)
        else:
            keys.append(letter.payload if letter.stage == NORMALIZE else letter.source)
    return keys, consume_errors


def test_a_broker_restart_mid_stream_loses_nothing(own_broker: KafkaServer, tmp_path: Path) -> None:
    bootstrap = own_broker.bootstrap
    topics = _topics(bootstrap)
    workload = make_workload(MESSAGES, seed=31)
    messages = workload.messages
    quarter = len(messages) // 4
    good_in_quarter = sum(m.expect == "tx" for m in messages[:quarter])
    sizes = Counter(m.expect for m in messages)
    expected_sizes = {
        topics.enriched: sizes["tx"],
        topics.dead: sizes["source"] + sizes["normalize"],
        topics.bundles: len(workload.detection_keys),
    }
    recovery = recovery_dir(tmp_path)

    produce(bootstrap, topics.raw, messages[:quarter])
    flow = Supervisor(topics.env(bootstrap, tail=True), tmp_path, recovery)

    def enriched_at_least(n: int) -> Callable[[], bool]:
        return lambda: _topic_size(bootstrap, topics.enriched, 2) >= n

    flow.wait_for(enriched_at_least(good_in_quarter), 120, "the first quarter")
    producing = threading.Thread(
        target=produce_paced, args=(bootstrap, topics.raw, messages[quarter:])
    )
    producing.start()
    flow.wait_for(enriched_at_least(good_in_quarter + 1000), 120, "the stream to flow")
    done_at_restart = _topic_size(bootstrap, topics.enriched, 2)
    assert producing.is_alive(), "the input ended before the restart: not mid-stream"
    restart_started = time.monotonic()
    own_broker.restart(down_s=DOWN_S)
    restart_s = time.monotonic() - restart_started
    producing.join(timeout=180)
    assert not producing.is_alive(), "the producer did not get its messages in"

    last: list[int] = []

    def all_out_and_settled() -> bool:
        # Everything expected is out (as counts; repeats may pad them) and nothing more comes.
        now = [_topic_size(bootstrap, name, 2) for name in expected_sizes]
        settled = now == last and all(
            n >= want for n, want in zip(now, expected_sizes.values(), strict=True)
        )
        last[:] = now
        if not settled:
            time.sleep(1.0)
        return settled

    try:
        flow.wait_for(all_out_and_settled, 180, "every output after the restart")
    finally:
        flow.cluster.kill()

    keys, consume_errors = read_outputs(bootstrap, topics)
    print(
        f"\nbroker restarted after {done_at_restart} of {sizes['tx']} txs "
        f"(down {restart_s:.1f}s from stop to serving); flow processes restarted "
        f"{len(flow.restarts)} times (exit codes {flow.restarts}); "
        f"{len(consume_errors)} consume-error dead letters {sorted(set(consume_errors))[:3]}"
    )
    expected = [m.identity for m in messages] + sorted(workload.detection_keys)
    tally("kafka broker restart", expected, keys, set(keys)).report_and_check()
