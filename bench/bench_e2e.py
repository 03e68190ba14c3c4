"""The whole Scorpius flow from a real Kafka broker at offered rates, and its 1 vs 2 worker scaling.

    python -m bench.bench_e2e [--rates 1000,10000,50000] [--seconds 20] [--drain 10]
                              [--partitions 2] [--workers 1] [--scaling-messages 10000]
                              [--bootstrap HOST:PORT] [--verify]

Starts a KRaft broker from the test jars (``tests/services/install_kafka.sh``) unless
``--bootstrap`` names one. Each rate is one step with fresh topics and a fresh flow process:
``flows.mempool:flow`` with ``SCORPIUS_SOURCE_KIND=kafka``, the Kafka sinks on
(``SCORPIUS_KAFKA_PUBLISH``) and its local archive in a temporary folder. A producer process
writes the bundled sample's pending transactions to ``tx_raw`` the way the ingest job does
(``connectors.kafka.raw_message``: key = tx hash, ``chain_id`` and ``seen_ms`` headers, the
ingest's idempotent producer settings), paced to the offered rate, with ``seen_ms`` = the wall
time of the send: first-seen is the moment the ingest handed the tx to Kafka. The sample is
played in laps of new transactions (``bench/e2e_workload.py``). The flow runs its default
configuration: a tx more than the watermark wait (10 s) behind skips the mempool detectors as a
``late`` dead letter, so the dead-letter column shows how far behind a step fell.

Per step: ``sent/s`` is what the producer managed (it is a Python process on the same cores);
``done/s`` is ``tx_enriched`` messages (one per tx, written before the epoch may close) during
the step; ``backlog`` is sent but not yet through at the step's end. After the step the flow
gets ``--drain`` seconds to catch up, then stops; ``left`` is what it still had not done.

Latency is first-seen → alert in the ``alerts`` topic: the broker's append time of the alert
(topics made with ``message.timestamp.type=LogAppendTime``) minus the newest ``seen_ms`` among
the alert's transactions, i.e. from the moment the alert could first be known (a frontrun copy
cannot be reported before the copy arrives) to the moment a consumer can read it. That is chosen
over ``scorpius_end_to_end_seconds{output="alert"}``: the histogram is observed before the sink
writes, measures detections from their *first* tx (so it counts the wait for the completing one),
and only resolves to its buckets (25, 50, 100 ms ...). Producer, broker and flow share one clock.

Peak RSS is the flow process's own high-water mark (``wait4``'s ``ru_maxrss``), summed over the
processes of a step. Scaling runs the flow over a pre-filled ``tx_raw`` to its end in each layout
(``bench_kafka.run_layout``: steady = messages / span of the output timestamps) and divides the
best two-worker layout by one worker; there the watermark wait is longer than the run, so every
tx does the full work (none is cut short as late) in every layout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from bench.bench_kafka import LAYOUTS, ROOT, flow_env, output_topics, run_layout, start_flow
from bench.e2e_workload import SampleTx, Workload, load_sample, produce_now
from bench.testbed import KafkaServer, create_topic, read_topic, unique_topic

FLOW = "flows.mempool:flow"
WARMUP = 200
# Output topics stamped by the broker when it appends: the time a consumer could first read them.
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
# A watermark wait longer than any scaling run.
LATE_NEVER_S = 3600


# --- the flow under test -------------------------------------------------------------------------


def topic_size(consumer: Consumer, topic: str, partitions: int) -> int:
    """Messages in ``topic`` so far (sum of the partitions' high watermarks)."""
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(partitions)
    )


def stop_flow(procs: Sequence[Any], timeout: float = 30.0) -> float:
    """SIGINT to every flow process, then their summed peak RSS in MB (``ru_maxrss``)."""
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    peak_kb = 0
    deadline = time.monotonic() + timeout
    for proc in procs:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kb += usage.ru_maxrss  # KiB on Linux
    return peak_kb / 1024


@dataclass(frozen=True)
class Step:
    offered: float
    sent: int
    send_seconds: float  # the producer's sending time
    seconds: float  # from its first send until done was counted
    done: int
    backlog: int
    left: int
    latencies_ms: list[float]
    peak_rss_mb: float
    dead_letters: int
    # Sent transactions missing from tx_enriched after the drain (None: not checked).
    unaccounted: int | None = None

    @property
    def sent_rate(self) -> float:
        return self.sent / self.send_seconds

    @property
    def done_rate(self) -> float:
        return self.done / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the alert latencies (NaN when there were none)."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class _AlertTxs(msgspec.Struct):
    tx_hashes: tuple[str, ...]


_decode_alert = msgspec.json.Decoder(_AlertTxs).decode


def alert_latencies(
    bootstrap: str, topic: str, workload: Workload, seen_ms: Sequence[int], first_seq: int
) -> list[float]:
    """ms from the newest first-seen among an alert's txs to its append to ``topic``; alerts
    that involve only warm-up txs (below ``first_seq``) are left out."""
    latencies = []
    for msg in read_topic(bootstrap, topic):
        kind, appended_ms = msg.timestamp()
        if kind != 2:  # TIMESTAMP_LOG_APPEND_TIME
            raise RuntimeError(f"{topic}: message timestamps are not the broker's append time")
        value = msg.value()
        if value is None:
            raise RuntimeError(f"{topic}: an alert message without a value")
        seqs = [workload.seq_of(h) for h in _decode_alert(value).tx_hashes]
        known = [s for s in seqs if s is not None and s < len(seen_ms)]
        if len(known) != len(seqs):
            raise RuntimeError(f"{topic}: an alert names a tx this bench did not send: {seqs}")
        if max(known) >= first_seq:
            latencies.append(float(appended_ms - max(seen_ms[s] for s in known)))
    return latencies


def _missing(bootstrap: str, topic: str, workload: Workload, count: int) -> int:
    got = {key.decode() for msg in read_topic(bootstrap, topic) if (key := msg.key())}
    return sum(1 for seq in range(count) if workload.tx_hash(seq) not in got)


def _log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_for(
    consumer: Consumer, topic: str, partitions: int, count: int, timeout: float, procs: Any
) -> int:
    deadline = time.monotonic() + timeout
    while (done := topic_size(consumer, topic, partitions)) < count:
        if any(proc.poll() is not None for proc in procs) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return done


def run_step(
    bootstrap: str,
    workdir: Path,
    rate: float,
    seconds: float,
    drain: float,
    partitions: int = 2,
    workers: int = 1,
    verify: bool = False,
    txs: Sequence[SampleTx] | None = None,
) -> Step:
    """One offered rate: fresh topics, a fresh flow, warm-up, ``seconds`` of paced load, drain."""
    workload_tag = random.getrandbits(32)
    workload = Workload(txs if txs is not None else load_sample(), workload_tag)
    raw_topic = create_topic(bootstrap, unique_topic("e2e-tx_raw"), partitions)
    outputs = output_topics(bootstrap, partitions, APPEND_TIME)
    enriched = outputs["SCORPIUS_KAFKA_TOPIC_ENRICHED"]
    out_dir = workdir / f"out-{rate:g}"
    env = flow_env(
        bootstrap,
        raw_topic,
        outputs,
        tail=True,
        SCORPIUS_SOURCE_KIND="kafka",
        SCORPIUS_KAFKA_PUBLISH="true",
        SCORPIUS_OUTPUT_DIR=str(out_dir),
        SCORPIUS_OUTPUT_CONSOLE="false",
    )
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-e2e"})
    log_path = workdir / f"flow-{rate:g}.log"
    with log_path.open("wb") as log:
        procs = start_flow(FLOW, env, 1, workers, log)
        try:
            seen = produce_now(bootstrap, raw_topic, workload, range(WARMUP))
            if _wait_for(consumer, enriched, partitions, WARMUP, 300, procs) < WARMUP:
                raise RuntimeError(f"the flow did not take the warm-up:\n{_log_tail(log_path)}")
            start_wall, end_wall, step_seen = _paced(
                bootstrap, raw_topic, workload_tag, rate, seconds, workdir
            )
            done_at_end = topic_size(consumer, enriched, partitions)
            step_end = time.time()
            seen.extend(step_seen)
            total = len(seen)
            done_after = _wait_for(consumer, enriched, partitions, total, drain, procs)
            if any(proc.poll() is not None for proc in procs):
                raise RuntimeError(f"the flow stopped during the step:\n{_log_tail(log_path)}")
        finally:
            peak_rss = stop_flow(procs)
            consumer.close()
    latencies = alert_latencies(
        bootstrap, outputs["SCORPIUS_KAFKA_TOPIC_ALERTS"], workload, seen, WARMUP
    )
    dead = len(read_topic(bootstrap, outputs["SCORPIUS_KAFKA_TOPIC_DEAD_LETTERS"]))
    unaccounted = _missing(bootstrap, enriched, workload, total) if verify else None
    AdminClient({"bootstrap.servers": bootstrap}).delete_topics([raw_topic, *outputs.values()])
    sent = total - WARMUP
    return Step(
        offered=rate,
        sent=sent,
        send_seconds=end_wall - start_wall,
        seconds=step_end - start_wall,
        done=done_at_end - WARMUP,
        backlog=total - done_at_end,
        left=total - done_after,
        latencies_ms=latencies,
        peak_rss_mb=peak_rss,
        dead_letters=dead,
        unaccounted=unaccounted,
    )


def _paced(
    bootstrap: str, topic: str, tag: int, rate: float, seconds: float, workdir: Path
) -> tuple[float, float, list[int]]:
    """The paced producer in its own process (``bench.e2e_workload``), so its CPU is not ours."""
    seen_file = workdir / f"seen-{tag:08x}.bin"
    args = [bootstrap, topic, str(tag), str(WARMUP), str(rate), str(seconds), str(seen_file)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.e2e_workload", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the producer failed: {done.stderr[-2000:]}")
    times = json.loads(done.stdout)
    seen = array("q")
    seen.frombytes(seen_file.read_bytes())
    seen_file.unlink()
    return times["start"], times["end"], seen.tolist()


# --- scaling -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scaling:
    messages: int
    steady: dict[str, float]  # layout name → messages per second

    @property
    def ratio(self) -> float:
        two = max(rate for name, rate in self.steady.items() if name != "1 process x 1 worker")
        return two / self.steady["1 process x 1 worker"]


def run_scaling(bootstrap: str, workdir: Path, messages: int, partitions: int) -> Scaling:
    """Every ``LAYOUTS`` layout of the full flow over the same pre-filled ``tx_raw``, to its end."""
    workload = Workload(load_sample(), random.getrandbits(32))
    raw_topic = create_topic(bootstrap, unique_topic("e2e-scaling-tx_raw"), partitions)
    produce_now(bootstrap, raw_topic, workload, range(messages))
    steady = {}
    for name, (processes, workers) in LAYOUTS.items():
        out_dir = workdir / f"scaling-{processes}x{workers}"
        _, span, _ = run_layout(
            bootstrap,
            raw_topic,
            partitions,
            processes,
            workers,
            FLOW,
            SCORPIUS_SOURCE_KIND="kafka",
            SCORPIUS_KAFKA_PUBLISH="true",
            SCORPIUS_OUTPUT_DIR=str(out_dir),
            SCORPIUS_OUTPUT_CONSOLE="false",
            # Every tx through the detectors' windows, however far behind the run falls: a tx
            # behind the watermark skips them (dead letter "late"), which would make a slower
            # layout look faster.
            SCORPIUS_DETECT_WATERMARK_WAIT_S=str(LATE_NEVER_S),
        )
        steady[name] = messages / span
    return Scaling(messages, steady)


# --- report --------------------------------------------------------------------------------------


def format_table(steps: Sequence[Step], scaling: Scaling | None) -> str:
    head = (
        "| offered tx/s | sent tx/s | done tx/s | backlog at end | left after drain "
        "| dead letters | alerts | p50 ms | p99 ms | peak RSS MB |"
    )
    lines = [head, "| " + " | ".join("---" for _ in range(head.count("|") - 1)) + " |"]
    for s in steps:
        lines.append(
            f"| {s.offered:,.0f} | {s.sent_rate:,.0f} | {s.done_rate:,.0f} | {s.backlog:,} "
            f"| {s.left:,} | {s.dead_letters:,} | {len(s.latencies_ms):,} | {s.percentile(50):,.0f} "
            f"| {s.percentile(99):,.0f} | {s.peak_rss_mb:,.0f} |"
        )
    if scaling is not None:
        lines.append("")
        lines.append(f"Scaling, full flow over {scaling.messages:,} pre-filled tx_raw messages:")
        for name, rate in scaling.steady.items():
            lines.append(f"  {name:<24} steady {rate:>9,.0f} tx/s")
        lines.append(f"  2 workers / 1 worker      {scaling.ratio:.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,10000,50000", help="offered tx/s, comma separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--drain", type=float, default=10.0, help="catch-up time after a step")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="flow workers in the rate steps")
    parser.add_argument("--scaling-messages", type=int, default=10_000, help="0 skips scaling")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--verify", action="store_true", help="check every tx reached tx_enriched")
    args = parser.parse_args(argv)
    rates = [float(rate) for rate in args.rates.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        workdir = Path(tmp)
        server = None
        bootstrap = args.bootstrap
        if bootstrap is None:
            server = KafkaServer(workdir / "kafka")
            server.start()
            bootstrap = server.bootstrap
        try:
            print(
                f"whole flow, {args.partitions} tx_raw partitions, {args.workers} worker(s), "
                f"{args.seconds:g} s per rate, {os.cpu_count()} CPUs shared with the broker "
                f"and the producer; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            txs = load_sample()
            steps = []
            for rate in rates:
                step = run_step(
                    bootstrap,
                    workdir,
                    rate,
                    args.seconds,
                    args.drain,
                    args.partitions,
                    args.workers,
                    args.verify,
                    txs,
                )
                steps.append(step)
                print(format_table([step], None).splitlines()[-1], flush=True)
            scaling = None
            if args.scaling_messages > 0:
                scaling = run_scaling(bootstrap, workdir, args.scaling_messages, args.partitions)
            print()
            print(format_table(steps, scaling))
            for step in steps:
                if step.unaccounted is not None:
                    print(
                        f"--verify, {step.offered:,.0f} tx/s: {step.unaccounted} sent txs missing"
                    )
            print(f"load average at the end {os.getloadavg()[0]:.1f}")
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
