"""SIGINT / SIGTERM stop the flow gracefully (issue 14): sources close, sinks flush, the summary
is written and the exit code is 0; a second signal exits at once. Real signals to a real process,
for the replay, RPC (Anvil) and Kafka sources."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from connectors.kafka import raw_message
from connectors.replay import read_items
from flows.config import BUNDLED_SAMPLE
from operators.records import RawItem
from tests.services.anvil import AnvilNode
from tests.services.kafka import create_topic, producer_headers, unique_topic

REPO = Path(__file__).resolve().parents[2]
BYTEWAX_RUN = [sys.executable, "-m", "bytewax.run", "flows.mempool:flow"]
SCORPIUS = [sys.executable, "-m", "flows.cli"]


class Running:
    """A flow process whose stderr goes to a file the test can watch."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **env}, stdout=self._out, stderr=subprocess.STDOUT
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.text():
            if self.proc.poll() is not None:
                pytest.fail(f"flow exited {self.proc.returncode} before {marker!r}:\n{self.text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {marker!r} within {timeout} s:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def stop(self, sig: signal.Signals, timeout: float = 120.0) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[list[str], dict[str, str]], Running]]:
    started: list[Running] = []

    def run(cmd: list[str], env: dict[str, str]) -> Running:
        running = Running(cmd, env, tmp_path / f"flow-{len(started)}.log")
        started.append(running)
        return running

    yield run
    for running in started:
        running.kill()


def assert_stopped_cleanly(running: Running, code: int, out: Path) -> dict[str, int]:
    text = running.text()
    assert code == 0, text[-3000:]
    assert "panicked" not in text and "Traceback" not in text, text[-3000:]
    assert "Scorpius run summary" in text
    summary: dict[str, int] = json.loads((out / "summary.json").read_text())
    for name in ("alerts", "dead_letters", "detections", "inclusions"):
        assert (out / f"{name}.jsonl").exists(), name
    return summary


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_scorpius_run_replay_stops_on_a_signal_with_its_summary(
    sig: signal.Signals, start: Callable[[list[str], dict[str, str]], Running], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    running = start(
        [*SCORPIUS, "run", "--quiet", "--rate", "50", "-o", str(out)],
        {"SCORPIUS_OUTPUT_STATUS_INTERVAL_S": "1"},
    )
    running.wait_for("status: read")  # a status line: items are flowing
    assert (out / "summary.json").exists()  # refreshed while running, not only at the end
    summary = assert_stopped_cleanly(running, running.stop(sig), out)
    assert f"{sig.name} received, stopping" in running.text()
    total = sum(1 for _ in read_items(BUNDLED_SAMPLE))
    assert 0 < summary["read"] < total  # stopped early
    assert summary["dead_lettered"] == 0  # and nothing of what was read was lost on the way


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys, time\n"
        "from flows.shutdown import install_stop_handlers\n"
        "stop = install_stop_handlers()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(0.2)\n"
        "assert stop.is_set()\n"
        "print('first signal: stopping', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(10)\n"
        "print('still running', flush=True)\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 128 + signal.SIGINT, done.stderr
    assert "first signal: stopping" in done.stdout and "still running" not in done.stdout
    assert "SIGINT again, exiting now" in done.stderr
    assert time.monotonic() - started < 9


@pytest.mark.slow
@pytest.mark.service
def test_bytewax_run_rpc_source_logs_its_connection_and_stops_on_sigterm(
    anvil: AnvilNode, start: Callable[[list[str], dict[str, str]], Running], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    running = start(
        BYTEWAX_RUN,
        {
            "SCORPIUS_SOURCE_KIND": "rpc",
            "SCORPIUS_RPC_EXTRA": f"31337={anvil.ws_url}",
            "SCORPIUS_RPC_HEAD_STALL_S": "0",
            "SCORPIUS_OUTPUT_DIR": str(out),
            "SCORPIUS_OUTPUT_CONSOLE": "false",
            "SCORPIUS_OUTPUT_STATUS_INTERVAL_S": "1",
        },
    )
    running.wait_for("connected to chain 31337")  # the live source says what it does
    sender, receiver = anvil.rpc("eth_accounts")[:2]
    sent = {
        anvil.rpc("eth_sendTransaction", {"from": sender, "to": receiver, "value": hex(i + 1)})
        for i in range(3)
    }
    running.wait_for("status: read 3 ")  # the pending txs reached the summary
    summary = assert_stopped_cleanly(running, running.stop(signal.SIGTERM), out)
    assert summary["read"] >= len(sent) and summary["dead_lettered"] == 0


@pytest.mark.slow
@pytest.mark.service
def test_bytewax_run_kafka_source_stops_on_sigterm_after_reading_everything(
    kafka_bootstrap: str, start: Callable[[list[str], dict[str, str]], Running], tmp_path: Path
) -> None:
    topic = create_topic(kafka_bootstrap, unique_topic("tx-raw-stop"), partitions=2)
    items = [i for i in read_items(BUNDLED_SAMPLE) if isinstance(i, RawItem) and i.kind == "tx"]
    items = items[:300]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for item in items:
        msg = raw_message(item)
        producer.produce(topic, msg.value, msg.key, headers=producer_headers(msg.headers))
    assert producer.flush(30) == 0
    out = tmp_path / "out"
    running = start(
        BYTEWAX_RUN,
        {
            "SCORPIUS_SOURCE_KIND": "kafka",
            "SCORPIUS_KAFKA_BROKERS": kafka_bootstrap,
            "SCORPIUS_KAFKA_TOPIC_RAW": topic,
            "SCORPIUS_KAFKA_TAIL": "true",  # would wait for more forever: only a stop ends it
            "SCORPIUS_OUTPUT_DIR": str(out),
            "SCORPIUS_OUTPUT_CONSOLE": "false",
            "SCORPIUS_OUTPUT_STATUS_INTERVAL_S": "1",
        },
    )
    running.wait_for(f"status: read {len(items)} ")
    summary = assert_stopped_cleanly(running, running.stop(signal.SIGTERM), out)
    # every message read was normalized; years of sample history interleaved over two partitions
    # may be late for a window (a dead letter of that window only), not lost
    assert summary["read"] == summary["normalized"] == len(items)
