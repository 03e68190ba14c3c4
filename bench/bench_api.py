"""The API's live streams under load: one API process (``scorpius serve``, embedded feed) and 100
concurrent WebSocket clients.

1. Throughput: N alerts appended at once to the flow's ``alerts.jsonl``; msgs/s delivered in all
   (N x clients / time from the first receipt to the last client's last).
2. Latency: alerts appended at --rate per second (stamped ``created_ms`` when written, which is
   when the flow's sink writes them) for --seconds; p50 / p99 of receipt time - created_ms over
   every message of every client.

Clients run in --procs processes (uvloop, websockets' sans-I/O protocol; they read each alert's
``created_ms`` with a regex instead of decoding the JSON, so their CPU goes to receiving), all on this machine: the
figures include the clients' share of the CPU. The load average and the CPU seconds the server
and the clients used are printed beside the figures (the machine may be shared).
Usage: PYTHONPATH=. python bench/bench_api.py [--clients 100] [--burst 2000] [--rate 1000]
       [--seconds 10] [--procs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvloop
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from bench.testbed import free_port, wait_for_port

_CREATED = re.compile(rb'"created_ms":(\d+)')


def _alert(i: int, pad: str) -> str:
    return json.dumps(
        {
            "key": f"bench-{i}",
            "origin": "detector:sandwich_attempt",
            "severity": "high",
            "title": f"sandwich attempt {i} {pad}",
            "chain_id": 1,
            "tx_hashes": [f"0x{i:064x}"],
            "first_seen_ms": int(time.time() * 1000),
            "created_ms": int(time.time() * 1000),
            "tags": ["mev"],
            "data": {"searcher": "0x" + "ab" * 20},
        },
        separators=(",", ":"),
    )


class _Receiver(asyncio.Protocol):
    """One WebSocket client on websockets' sans-I/O protocol, counting alerts as they arrive (no
    task, queue or future per frame: the clients' CPU is part of what the figures measure)."""

    def __init__(self, url: str, expect: int) -> None:
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.expect = expect
        self.got = 0
        self.first = self.last = 0.0
        self.lags: list[float] = []
        self.hello = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        transport.write(b"".join(self.ws.data_to_send()))

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        now_ms = time.time() * 1000
        for event in self.ws.events_received():
            if not isinstance(event, Frame) or event.opcode is not Opcode.TEXT:
                continue
            frame = bytes(event.data)
            # Each alert's own stamp, without decoding the JSON around it.
            stamps = _CREATED.findall(frame)
            if not stamps:
                if b'"type":"missed"' in frame[:40]:
                    self._finish(RuntimeError("a client was skipped ahead: messages missed"))
                elif not self.hello.done():
                    self.hello.set_result(None)
                continue
            if self.got == 0:
                self.first = time.perf_counter()
            self.got += len(stamps)
            self.lags.extend([now_ms - int(stamp) for stamp in stamps])
            if self.got >= self.expect:
                self.last = time.perf_counter()
                self._finish(None)
        out = self.ws.data_to_send()
        if out:
            self.transport.write(b"".join(out))

    def _finish(self, error: Exception | None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(ConnectionError("the server closed the connection"))


async def _clients(url: str, n: int, expect: int, ready: Any, go: Any) -> list[Any]:
    loop = asyncio.get_running_loop()
    where = parse_uri(url)
    receivers = []
    for _ in range(n):
        _, receiver = await loop.create_connection(
            lambda: _Receiver(url, expect), where.host, where.port
        )
        receivers.append(receiver)
    async with asyncio.timeout(120):
        for r in receivers:
            await r.hello
    ready.set()
    async with asyncio.timeout(120 + expect / 100):
        for r in receivers:
            await r.done
    for r in receivers:
        r.transport.close()
    return [(r.got, r.first, r.last, r.lags) for r in receivers]


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _client_proc(url: str, n: int, expect: int, ready: Any, go: Any, out: Any) -> None:
    started = _cpu_s()
    results = uvloop.run(_clients(url, n, expect, ready, go))
    got = sum(r[0] for r in results)
    first = min(r[1] for r in results)
    last = max(r[2] for r in results)
    lags = [lag for r in results for lag in r[3]]
    out.put((got, first, last, lags, _cpu_s() - started))


def _process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    got: int
    elapsed_s: float
    lags: list[float]
    clients_cpu_s: float


def _run(url: str, out_dir: Path, clients: int, procs: int, count: int, rate: float) -> Phase:
    ctx = multiprocessing.get_context("fork")
    queue: Any = ctx.Queue()
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    readies = [ctx.Event() for _ in per]
    go = ctx.Event()
    workers = [
        ctx.Process(target=_client_proc, args=(url, n, count, ready, go, queue))
        for n, ready in zip(per, readies, strict=True)
    ]
    for w in workers:
        w.start()
    for ready in readies:
        ready.wait(120)
    pad = "x" * 200
    alerts = out_dir / "alerts.jsonl"
    with alerts.open("a") as f:
        if rate <= 0:
            f.write("".join(_alert(i, pad) + "\n" for i in range(count)))
            f.flush()
        else:
            # Writes every 10 ms, like a sink's batches, each stamped when written.
            step = max(1, int(rate / 100))
            started = time.perf_counter()
            for i in range(0, count, step):
                due = started + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                f.write("".join(_alert(j, pad) + "\n" for j in range(i, min(count, i + step))))
                f.flush()
    parts = [queue.get(timeout=120 + count / max(rate, 100)) for _ in workers]
    for w in workers:
        w.join()
    got = sum(p[0] for p in parts)
    elapsed = max(p[2] for p in parts) - min(p[1] for p in parts)
    lags = [lag for p in parts for lag in p[3]]
    return Phase(got, elapsed, lags, sum(p[4] for p in parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument(
        "--batch", action="store_true", help="clients ask for batched frames (?batch=1)"
    )
    args = parser.parse_args()

    out = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    env.update(SCORPIUS_OUTPUT_DIR=str(out), SCORPIUS_API_CLIENT_QUEUE="20000")
    key = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "api-keys",
            "create",
            "--role",
            "viewer",
            "--rate",
            "100000",
            "--burst",
            "100000",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=120)
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).raise_for_status()
        url = f"ws://127.0.0.1:{port}/ws/alerts?api_key={key}"
        if args.batch:
            url += "&batch=1"
        print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        cpu = _process_cpu_s(server.pid)
        phase = _run(url, out, args.clients, args.procs, args.burst, 0)
        print(
            f"throughput: {phase.got:,} messages to {args.clients} WebSocket clients in"
            f" {phase.elapsed_s:.2f} s = {phase.got / phase.elapsed_s:,.0f} msg/s"
            f" (one API process; CPU: server {_process_cpu_s(server.pid) - cpu:.1f} s,"
            f" clients {phase.clients_cpu_s:.1f} s)"
        )
        print(f"load average: {os.getloadavg()[0]:.1f}")
        count = int(args.rate * args.seconds)
        cpu = _process_cpu_s(server.pid)
        phase = _run(url, out, args.clients, args.procs, count, args.rate)
        lags = sorted(phase.lags)
        p50 = statistics.median(lags)
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        print(
            f"latency at {args.rate:,.0f} alerts/s to {args.clients} clients ({phase.got:,}"
            f" receipts): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lags[-1]:.1f} ms"
            " (flow's output file write -> client receipt; CPU over"
            f" {args.seconds:g} s: server {_process_cpu_s(server.pid) - cpu:.1f} s,"
            f" clients {phase.clients_cpu_s:.1f} s)"
        )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
