"""Soak: an hour of event time through the whole flow, with memory and state measured each minute.

The load is generated, not recorded: ``--rate`` pending txs per second, ``--senders`` distinct
senders (each with its own rising nonce) and ``--pools`` distinct Uniswap V2 pairs: every tx is a
``swapExactTokensForTokens`` on the V2 router over one pair of generated tokens, which the enrich
stage decodes and prices as a swap on that pair's pool, so the sandwich-attempt, frontrun-copy and
replacement windows and the inclusion tracker all hold state.

The load is live: each tx is first seen at its scheduled wall-clock time (one ``1000 / rate`` ms
apart from the start), and the source hands the flow only the txs that are due, as a node's
subscription would. An hour of event time takes an hour. A flow slower than the rate falls
behind its schedule; the bench counts the txs that were handed over late (behind by more than
the watermark wait, so the windows turn them away) and prints that count, so a run on a machine
that cannot keep up says so instead of measuring empty windows.

Every event-time minute the source records the process's RSS and the size of the state of each
stateful step (bytewax pickles each key's state into the recovery database at every epoch: the
bench sums the newest snapshot of every live key per step). It prints one line per minute and a
verdict: after the warm-up, is RSS within 10 % of its level at the end of warm-up, and under
1 GB? Do the windows' states stop growing?

    nice python -m bench.bench_soak --minutes 60 --rate 1000 --senders 100000 --pools 10000
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from bytewax.inputs import FixedPartitionedSource, Source, StatefulSourcePartition
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import run_main
from eth_abi import encode

from connectors.allocator import malloc_stats
from connectors.background import BackgroundThread
from flows.config import K8sConfig, load_config
from flows.mempool import build_flow
from flows.wiring.memory import start_memory_care
from operators.records import DeadLetter, RawItem, Tx

ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"  # Uniswap V2 Router02 (mainnet)
SWAP_EXACT_TOKENS_FOR_TOKENS = bytes.fromhex("38ed1739")
BATCH = 2000
MINUTE_MS = 60_000


def _address(seed: int, tag: int) -> str:
    return f"0x{tag:04x}{seed:036x}"


def pool_calldata(pools: int, seed: int = 7) -> list[str]:
    """One swap calldata per pool: a pair of generated tokens (distinct pairs)."""
    tokens = max(2, int((2 * pools) ** 0.5) + 2)
    pairs = [(a, b) for a in range(tokens) for b in range(a + 1, tokens)][:pools]
    rng = random.Random(seed)
    out = []
    for a, b in pairs:
        args = encode(
            ["uint256", "uint256", "address[]", "address", "uint256"],
            [
                rng.randrange(10**15, 10**20),
                rng.randrange(10**12, 10**14),  # a slippage bound, as most swaps set
                [_address(a, 0xA0), _address(b, 0xA0)],
                _address(rng.randrange(1 << 32), 0xBB),
                2_000_000_000,
            ],
        )
        out.append("0x" + (SWAP_EXACT_TOKENS_FOR_TOKENS + args).hex())
    return out


@dataclass
class Sample:
    minute: int
    wall_s: float
    items: int
    rss_mb: float
    state_bytes: dict[str, int]
    # glibc malloc: bytes handed out, and bytes free but still held (fragmentation); Arrow's pool.
    malloc_used_mb: float = 0.0
    malloc_free_mb: float = 0.0
    arrow_mb: float = 0.0
    # Python's small-object allocator: arenas held, and bytes of live objects in them.
    pymalloc_arenas_mb: float = 0.0
    pymalloc_used_mb: float = 0.0
    rss_anon_mb: float = 0.0
    # RSS read every second over the minute: one reading lands anywhere in the archive's flush
    # cycle, so the median and the maximum say more than it does.
    rss_median_mb: float = 0.0
    rss_max_mb: float = 0.0


class RssSampler(BackgroundThread):
    """Reads RSS every ``interval_s``; ``take()`` returns the readings since the last call."""

    def __init__(self, interval_s: float = 1.0) -> None:
        super().__init__("soak-rss", join_timeout_s=5)
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._readings: list[float] = []

    def take(self) -> list[float]:
        with self._lock:
            readings, self._readings = self._readings, []
        return readings

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            reading = rss_mb()
            with self._lock:
                self._readings.append(reading)


@dataclass
class Soak:
    """The load and what was measured (the source fills ``samples`` as it goes)."""

    total: int
    rate: float
    senders: int
    calldata: list[str]
    start_ms: int
    recovery_dir: Path
    # Txs handed to the flow more than ``behind_ms`` after their scheduled first sighting.
    behind_ms: int = 10_000
    behind: int = 0
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    sampler: RssSampler = field(default_factory=RssSampler)

    def payload(self, i: int, nonces: list[int], rng: random.Random) -> tuple[bytes, str]:
        sender = rng.randrange(self.senders)
        nonce = nonces[sender]
        nonces[sender] += 1
        tx_hash = f"0x{i:064x}"
        tip = rng.randrange(1, 5) * 10**9
        body = (
            f'{{"hash":"{tx_hash}","from":"{_address(sender, 0x5E)}","to":"{ROUTER}",'
            f'"nonce":"{hex(nonce)}","value":"0x0","gas":"0x30d40","type":"0x2",'
            f'"chainId":"0x1","maxFeePerGas":"{hex(tip + 30 * 10**9)}",'
            f'"maxPriorityFeePerGas":"{hex(tip)}",'
            f'"input":"{self.calldata[rng.randrange(len(self.calldata))]}"}}'
        )
        return body.encode(), tx_hash

    def measure(self, minute: int, items: int) -> None:
        now = rss_mb()
        readings = self.sampler.take() or [now]
        sample = Sample(
            minute,
            round(time.monotonic() - self.started, 1),
            items,
            now,
            state_sizes(self.recovery_dir),
            *allocator_mb(),
            *pymalloc_mb(),
            rss_mb("RssAnon"),
            statistics.median(readings),
            max(readings),
        )
        self.samples.append(sample)
        windows = {k: v for k, v in sample.state_bytes.items() if "window" in k}
        print(
            f"minute {minute:3d}  wall {sample.wall_s:7.1f} s  items {items:>9,}  "
            f"RSS {sample.rss_mb:7.1f} MB (minute median {sample.rss_median_mb:.0f}, max "
            f"{sample.rss_max_mb:.0f}; anon {sample.rss_anon_mb:.0f}: malloc used "
            f"{sample.malloc_used_mb:.0f} free {sample.malloc_free_mb:.0f}, pymalloc "
            f"{sample.pymalloc_used_mb:.0f} of {sample.pymalloc_arenas_mb:.0f}, arrow "
            f"{sample.arrow_mb:.0f})  state {sum(sample.state_bytes.values()) / 1e6:7.2f} MB"
            f"  windows {json.dumps({_short(k): v for k, v in windows.items()})}",
            flush=True,
        )


def _short(step_id: str) -> str:
    """``scorpius.mempool_mev.replacement.window.…`` → ``replacement``."""
    parts = step_id.split(".")
    return parts[parts.index("window") - 1] if "window" in parts[1:] else step_id


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def allocator_mb() -> tuple[float, float, float]:
    """glibc's bytes in use (heap + mmapped) and free-but-held, and Arrow's pool, in MB."""
    import pyarrow

    arrow = pyarrow.total_allocated_bytes() / 2**20
    info = malloc_stats()
    if info is None:
        return 0.0, 0.0, arrow
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20, arrow


def pymalloc_mb() -> tuple[float, float]:
    """Python's small-object arenas held, and the bytes of live blocks in them, in MB (from
    ``sys._debugmallocstats``, which writes to the C stderr)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")

    def figure(label: str) -> int:
        found = re.search(label + r"\s*=\s*([\d,]+)", text)
        return int(found.group(1).replace(",", "")) if found else 0

    # Arenas are 1 MiB each on 64-bit CPython 3.10+.
    return figure("arenas allocated current"), figure("bytes in allocated blocks") / 2**20


def state_sizes(recovery_dir: Path) -> dict[str, int]:
    """Bytes of pickled state per stateful step: the newest snapshot of every live key."""
    sizes: dict[str, int] = {}
    for db in recovery_dir.glob("part-*.sqlite3"):
        # Read a copy: a second connection to the live WAL database maps its shared-memory file,
        # which the writer may shrink under it (SIGBUS). WAL frames are checksummed, so a frame
        # copied half-written is ignored.
        copy = Path(tempfile.mkdtemp(prefix="soak-db-")) / db.name
        for suffix in ("", "-wal"):
            if Path(f"{db}{suffix}").exists():
                shutil.copyfile(f"{db}{suffix}", f"{copy}{suffix}")
        with contextlib.closing(sqlite3.connect(copy, timeout=30)) as conn:
            rows = conn.execute(
                """SELECT s.step_id, SUM(LENGTH(s.ser_change)) FROM snaps s
                   JOIN (SELECT step_id, state_key, MAX(snap_epoch) AS e FROM snaps
                         GROUP BY step_id, state_key) n
                   ON s.step_id = n.step_id AND s.state_key = n.state_key AND s.snap_epoch = n.e
                   WHERE s.ser_change IS NOT NULL GROUP BY s.step_id"""
            ).fetchall()
        for step, size in rows:
            sizes[step] = sizes.get(step, 0) + int(size or 0)
        shutil.rmtree(copy.parent)
    return sizes


class _SoakPartition(StatefulSourcePartition[RawItem, None]):
    def __init__(self, soak: Soak) -> None:
        self._soak = soak
        self._i = 0
        self._nonces = [0] * soak.senders
        self._rng = random.Random(1)
        self._minute = 0

    def next_batch(self) -> list[RawItem]:
        soak = self._soak
        if self._i >= soak.total:
            soak.measure(self._minute + 1, self._i)
            raise StopIteration
        now = time.time_ns() // 1_000_000
        due = min(soak.total, int((now - soak.start_ms) * soak.rate / 1000) + 1)
        batch = []
        for i in range(self._i, min(due, self._i + BATCH)):
            seen_ms = soak.start_ms + int(i * 1000 / soak.rate)
            if now - seen_ms > soak.behind_ms:
                soak.behind += 1
            minute = (seen_ms - soak.start_ms) // MINUTE_MS
            if minute > self._minute:
                soak.measure(minute, i)
                self._minute = minute
            payload, tx_hash = soak.payload(i, self._nonces, self._rng)
            batch.append(RawItem("tx", 1, "bench:soak", seen_ms, payload, tx_hash))
        self._i += len(batch)
        return batch

    def next_awake(self) -> datetime | None:
        # Poll again when the next tx is due rather than spinning on an empty schedule.
        soak = self._soak
        due_ms = soak.start_ms + int(self._i * 1000 / soak.rate)
        return datetime.fromtimestamp(due_ms / 1000, tz=UTC)

    def snapshot(self) -> None:
        return None


class SoakSource(FixedPartitionedSource[RawItem, None]):
    def __init__(self, soak: Soak) -> None:
        self._soak = soak

    def list_parts(self) -> list[str]:
        return ["soak"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _SoakPartition:
        # The schedule starts when the flow is built, not when the bench started importing.
        self._soak.start_ms = time.time_ns() // 1_000_000
        return _SoakPartition(self._soak)


def verdict(samples: Sequence[Sample], warmup: int) -> str:
    after = [s for s in samples if s.minute >= warmup]
    if len(after) < 2:
        return f"not enough minutes after a {warmup}-minute warm-up"
    base = after[0].rss_mb
    peak = max(s.rss_mb for s in after)
    drift = (peak - base) / base * 100
    flat = drift <= 10.0 and peak < 1024
    medians = [s.rss_median_mb for s in after]
    median_drift = (max(medians) - medians[0]) / medians[0] * 100
    top = max(s.rss_max_mb for s in after)
    return (
        f"RSS at minute {after[0].minute}: {base:.0f} MB, at minute {after[-1].minute}: "
        f"{after[-1].rss_mb:.0f} MB, peak after warm-up {peak:.0f} MB (+{drift:.1f} %): "
        f"{'flat' if flat else 'NOT flat'} (limit +10 %, < 1024 MB); per-minute median "
        f"{medians[0]:.0f} -> {medians[-1]:.0f} MB (highest +{median_drift:.1f} %), highest "
        f"1-s reading {top:.0f} MB; state "
        f"{sum(after[0].state_bytes.values()) / 1e6:.1f} MB -> "
        f"{sum(after[-1].state_bytes.values()) / 1e6:.1f} MB"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=60, help="event time to generate")
    parser.add_argument("--rate", type=float, default=1000.0, help="pending txs per second")
    parser.add_argument("--senders", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=20, help="minutes before RSS must be flat")
    parser.add_argument(
        "--epoch-s",
        type=float,
        default=K8sConfig.snapshot_interval_s,
        help="snapshot interval, wall s (default: the worker's, SCORPIUS_K8S_SNAPSHOT_INTERVAL_S)",
    )
    parser.add_argument("--json", type=Path, help="write the samples here")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="scorpius-soak-"))
    recovery_dir = work / "recovery"
    recovery_dir.mkdir()
    init_db_dir(recovery_dir, 1)
    total = int(args.minutes * 60 * args.rate)
    now_ms = time.time_ns() // 1_000_000
    soak = Soak(
        total=total,
        rate=args.rate,
        senders=args.senders,
        calldata=pool_calldata(args.pools),
        start_ms=now_ms,
        recovery_dir=recovery_dir,
    )
    cfg = load_config(os.environ)
    soak.behind_ms = int(cfg.detect.watermark_wait_s * 1000)
    cfg = dataclasses.replace(
        cfg,
        output=dataclasses.replace(
            cfg.output, dir=str(work / "out"), console=False, status_interval_s=0
        ),
    )
    print(
        f"soak: {total:,} pending txs over {args.minutes} min of event time at {args.rate:g}/s, "
        f"{args.senders:,} senders, {len(soak.calldata):,} pools, snapshots every "
        f"{args.epoch_s:g} s; work dir {work}",
        flush=True,
    )
    # As `scorpius worker` does (SCORPIUS_MEMORY_*: trim interval 0 runs without it).
    memory = start_memory_care(cfg.memory)
    soak.sampler.start()
    try:
        run_main(
            build_flow(cfg, source=cast(Source[RawItem | Tx | DeadLetter], SoakSource(soak))),
            epoch_interval=timedelta(seconds=args.epoch_s),
            recovery_config=RecoveryConfig(str(recovery_dir)),
        )
    finally:
        soak.sampler.stop()
        memory.stop()
    print(verdict(soak.samples, args.warmup), flush=True)
    # A tx behind a window's watermark never enters it: a soak whose load outruns the flow (the
    # event clock extrapolates with wall time) measures empty windows. It must say so.
    with (work / "out" / "dead_letters.jsonl").open("rb") as letters:
        late = sum(1 for line in letters if b'"reason":"late' in line)
    print(
        f"handed over more than {soak.behind_ms / 1000:g} s behind schedule: {soak.behind:,}; "
        f"late dead letters (behind a window's watermark, per window): {late:,}; of {total:,} txs",
        flush=True,
    )
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(s) for s in soak.samples], indent=1))


if __name__ == "__main__":
    main()
