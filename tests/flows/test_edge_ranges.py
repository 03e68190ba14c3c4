"""Issue 14's probe cases through the real flow: one poisoned recorded line, one far-future time."""

from __future__ import annotations

import dataclasses
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
from bytewax.testing import TestingSource, run_main

from flows.config import BUNDLED_SAMPLE, load_config
from flows.mempool import build_flow
from operators.records import RawItem

REPO = Path(__file__).resolve().parents[2]
YEAR_2100_MS = 4_102_444_800_000
SCORPIUS_RUN = [sys.executable, "-m", "flows.cli", "run", "--quiet"]


def sample_lines(n: int) -> list[dict[str, Any]]:
    with gzip.open(BUNDLED_SAMPLE, "rt") as lines:
        return [json.loads(next(lines)) for _ in range(n)]


def dead_letters(out: Path) -> list[dict[str, Any]]:
    text = (out / "dead_letters.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line]


def test_a_poisoned_recorded_line_is_a_dead_letter_and_the_run_finishes(tmp_path: Path) -> None:
    lines = sample_lines(200)
    poison = {**lines[0], "seen_ms": 99999999999999999999999}
    recording = tmp_path / "poison.jsonl"
    recording.write_text("".join(json.dumps(x) + "\n" for x in [*lines[:5], poison, *lines[5:]]))
    out = tmp_path / "out"
    done = subprocess.run(
        [*SCORPIUS_RUN, "--replay", str(recording), "-o", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["read"] == 201 and summary["dead_lettered"] == 1
    (letter,) = dead_letters(out)
    assert letter["reason"].startswith("timestamp out of range: seen_ms 99999999999999999999999")
    assert "poison.jsonl:6" in letter["reason"]
    assert 0 < letter["at_ms"] <= time.time() * 1000  # stamped now, not with the bad time


def test_one_far_future_tx_does_not_make_later_good_txs_late(tmp_path: Path) -> None:
    # Pending txs of the sample a few seconds apart (event times of a live run), with one stamped
    # in the year 2100 among the first: before the fix its time moved every window's clock to
    # "now", and the good txs after it were dead-lettered as late.
    now_ms = time.time_ns() // 1_000_000
    txs = [x for x in sample_lines(400) if x["kind"] == "tx"][:60]
    items = [
        RawItem("tx", 1, "test", now_ms - 600_000 + i * 5_000, msgspec.json.encode(x["payload"]))
        for i, x in enumerate(txs)
    ]
    future = msgspec.structs.replace(items[3], seen_ms=YEAR_2100_MS)
    items.insert(4, future)
    cfg = load_config({})
    out = tmp_path / "out"
    cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, dir=str(out)))
    run_main(build_flow(cfg, source=TestingSource(items)))
    letters = dead_letters(out)
    assert [letter["reason"].split(":")[0] for letter in letters] == ["timestamp out of range"]
    assert str(YEAR_2100_MS) in letters[0]["reason"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["normalized"] == len(txs)
