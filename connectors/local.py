"""Local outputs of the embedded default: JSON-lines files, readable console lines, a run summary.

JSON-lines files use bytewax's ``FileSink``: one partition per file (so several workers append to one
file through the worker that owns it) whose resume state is the byte offset, so a recovered run
truncates to the last snapshot before appending again: no duplicate lines after a restart.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bytewax.connectors.files import FileSink
from bytewax.outputs import (
    DynamicSink,
    FixedPartitionedSink,
    StatefulSinkPartition,
    StatelessSinkPartition,
)

from operators.records import encode_json

SUMMARY_ORDER = (
    "read",
    "normalized",
    "blocks",
    "dead_lettered",
    "decoded",
    "detected",
    "rule_matches",
    "alerts",
)

# What each count is, printed beside it: the summary answers the questions it raises.
SUMMARY_MEANINGS = {
    "read": "items from the source (a pending tx, or a whole block with its txs, is one item)",
    "normalized": "transactions: the pending ones, plus every tx inside the blocks read",
    "blocks": "blocks, with their receipts and call traces",
    "dead_lettered": "items a stage could not handle, each with its reason",
    "decoded": "transactions whose call was decoded (a known function)",
    "detected": "MEV detections",
    "rule_matches": "rule matches",
    "alerts": "alerts (detections and rule matches)",
    "inclusions": "pending txs resolved: included in a block, reorged out, or expired",
}
INCLUSION_STATUSES = ("included", "reorged", "expired")


def use_color(mode: str, fd: int = 1) -> bool:
    """``mode`` auto colours a terminal unless NO_COLOR is set (no-color.org); always / never."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return os.isatty(fd) and not os.environ.get("NO_COLOR")


class _ConsolePartition(StatelessSinkPartition[Any]):
    def __init__(self, fd: int, line: Callable[[Any, bool], str], color: bool) -> None:
        self._fd = fd
        self._line = line
        self._color = color

    def write_batch(self, items: list[Any]) -> None:
        for item in items:
            data = (self._line(item, self._color) + "\n").encode()
            # One write call per whole line: workers share the terminal, and a line written in
            # pieces (print's text, then its newline) can be joined with another worker's.
            while data:
                data = data[os.write(self._fd, data) :]


class ConsoleSink(DynamicSink[Any]):
    """One line per item on stdout, ``line(item, color)``, written whole on every worker."""

    def __init__(self, line: Callable[[Any, bool], str], color: str = "auto", fd: int = 1) -> None:
        self._line = line
        self._color = color
        self._fd = fd

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ConsolePartition:
        sys.stdout.flush()
        return _ConsolePartition(self._fd, self._line, use_color(self._color, self._fd))


# The stages a status line reports, in pipeline order.
STATUS_STAGES = ("read", "normalized", "blocks", "dead_lettered", "detected", "alerts")

log = logging.getLogger(__name__)


def jsonl_sink(path: str | Path) -> FileSink:
    """A JSON-lines file; items are ``as_line(record)`` pairs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Bytewax opens a partition on its first item; an output with nothing in it still exists.
    path.touch(exist_ok=True)
    return FileSink(path)


def for_summary(count: tuple[str, int]) -> tuple[str, tuple[str, int]]:
    """A ``(stage, n)`` count as the ``(partition key, item)`` pair ``SummarySink`` takes."""
    return ("", count)


def as_line(record: Any) -> tuple[str, str]:
    """A record as the ``(partition key, JSON line)`` pair a JSON-lines ``FileSink`` takes."""
    return ("", encode_json(record).decode())


def summary_text(
    totals: dict[str, int], seconds: float, outputs: Sequence[tuple[str, str]] = ()
) -> str:
    """The run summary as printed: every count with what it means, the time it took, the rate,
    and where each output went."""
    rate = totals.get("read", 0) / seconds if seconds > 0 else 0.0
    lines = [
        "",
        f"Scorpius run summary: {totals.get('read', 0):,} items read in {seconds:,.1f} s "
        f"({rate:,.0f} items/s)",
    ]
    shown = {k: v for k, v in totals.items() if not k.startswith("inclusions_")}
    width = max(len(k) for k in shown)
    for stage, count in shown.items():
        meaning = SUMMARY_MEANINGS.get(stage, "")
        if stage == "inclusions":
            split = ", ".join(
                f"{totals.get(f'inclusions_{status}', 0):,} {status}"
                for status in INCLUSION_STATUSES
            )
            meaning = f"pending txs resolved: {split} (expired: not seen mined within the TTL)"
        lines.append(f"  {stage:<{width}}  {count:>10,}  {meaning}".rstrip())
    if outputs:
        lines.append("Outputs")
        name_width = max(len(name) for name, _ in outputs)
        lines += [f"  {name:<{name_width}}  {where}" for name, where in outputs]
    return "\n".join(lines)


class _SummaryPartition(StatefulSinkPartition[tuple[str, int], dict[str, int]]):
    def __init__(
        self,
        path: Path,
        resume: dict[str, int] | None,
        echo: bool,
        status_interval_s: float,
        outputs: Sequence[tuple[str, str]],
    ) -> None:
        self._path = path
        self._totals = dict(resume or {})
        self._echo = echo
        self._interval = status_interval_s
        self._last = time.monotonic()
        self._last_totals = dict(self._totals)
        # The heartbeat runs on its own thread: a quiet live flow still reports that it is alive.
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._heartbeat: threading.Thread | None = None
        if status_interval_s > 0:
            self._heartbeat = threading.Thread(target=self._beat, name="summary", daemon=True)
            self._heartbeat.start()
        self._outputs = outputs
        # Built when the flow starts; a resumed run counts from its restart.
        self._started = time.monotonic()

    def write_batch(self, values: list[tuple[str, int]]) -> None:
        with self._lock:
            for stage, count in values:
                self._totals[stage] = self._totals.get(stage, 0) + count

    def _beat(self) -> None:
        while not self._closed.wait(self._interval):
            with self._lock:
                self._status()

    def _status(self) -> None:
        """A long run's heartbeat: summary.json refreshed and one line of rates on stderr."""
        now = time.monotonic()
        seconds = max(now - self._last, 1e-9)
        self._write()
        rates = ", ".join(
            f"{stage} {self._totals.get(stage, 0):,} "
            f"({(self._totals.get(stage, 0) - self._last_totals.get(stage, 0)) / seconds:,.0f}/s)"
            for stage in STATUS_STAGES
        )
        log.info("status: %s", rates)
        self._last, self._last_totals = now, dict(self._totals)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._totals)

    def _ordered(self) -> dict[str, int]:
        totals = {stage: self._totals.get(stage, 0) for stage in SUMMARY_ORDER}
        totals.update({k: v for k, v in sorted(self._totals.items()) if k not in totals})
        return totals

    def _write(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file.
        partial = self._path.with_suffix(".json.partial")
        partial.write_text(json.dumps(self._ordered(), indent=2) + "\n")
        partial.replace(self._path)

    def close(self) -> None:
        self._closed.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        self._write()
        totals = self._ordered()
        if self._echo:
            seconds = time.monotonic() - self._started
            print(summary_text(totals, seconds, self._outputs), file=sys.stderr, flush=True)


class SummarySink(FixedPartitionedSink[tuple[str, int], dict[str, int]]):  # items: for_summary()
    """Adds up ``(stage, count)`` items on one worker and writes / prints the totals at the end;
    every ``status_interval_s`` (0 = never) of a long run it also rewrites ``summary.json`` and
    logs one status line (totals and rates of the main stages).

    Counts arrive per batch (not per item) from the flow's counting taps, so the summary costs the
    hot path one small item per batch and stage. ``outputs`` are (name, where) pairs the printed
    summary lists.
    """

    def __init__(
        self,
        path: str | Path,
        echo: bool = True,
        status_interval_s: float = 0.0,
        outputs: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._path = Path(path)
        self._echo = echo
        self._status_interval_s = status_interval_s
        self._outputs = tuple(outputs)

    def list_parts(self) -> list[str]:
        return ["summary"]

    def build_part(
        self, step_id: str, for_part: str, resume_state: dict[str, int] | None
    ) -> _SummaryPartition:
        return _SummaryPartition(
            self._path, resume_state, self._echo, self._status_interval_s, self._outputs
        )
