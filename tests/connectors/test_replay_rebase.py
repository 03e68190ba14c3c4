"""``replay_rebase``: recorded first-seen times move to the replay's own clock."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main

from connectors.replay import ReplaySource
from operators.records import RawItem

RECORDED_MS = 1_500_000_000_000  # 2017: what a plain replay reports as first-seen


def write_recording(path: Path, offsets_ms: list[int]) -> None:
    with path.open("wb") as fh:
        for i, offset in enumerate(offsets_ms):
            line = {
                "kind": "tx",
                "chain_id": 1,
                "source": "test",
                "seen_ms": RECORDED_MS + offset,
                "payload": {"n": i},
            }
            fh.write(orjson.dumps(line) + b"\n")


def replay(source: ReplaySource) -> list[RawItem]:
    flow = Dataflow("rebase")
    got: list[RawItem] = []
    op.output("out", op.input("in", flow, source), TestingSink(got))
    run_main(flow)
    return got


def test_plain_replay_keeps_recorded_times(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    write_recording(path, [0, 10, 20])
    got = replay(ReplaySource(path, speed=0, partitions=1))
    assert [item.seen_ms for item in got] == [RECORDED_MS, RECORDED_MS + 10, RECORDED_MS + 20]


def test_rebase_at_speed_keeps_scaled_spacing_from_now(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    write_recording(path, [0, 400, 800])
    before = time.time() * 1000
    got = replay(ReplaySource(path, speed=4.0, partitions=1, rebase=True))
    after = time.time() * 1000
    seen = [item.seen_ms for item in got]
    assert before - 1 <= seen[0] <= after
    # recorded 400 ms apart at 4x: 100 ms apart on the replay's clock (int truncation: ±1)
    assert all(abs((b - a) - 100) <= 1 for a, b in itertools.pairwise(seen)), seen
    # and each item is handed on when its rebased time has come, not before
    assert after >= seen[-1]
    assert [item.payload for item in got] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


def test_rebase_as_fast_as_possible_stamps_read_time(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    write_recording(path, [0, 86_400_000, 2 * 86_400_000])  # a day apart
    before = time.time() * 1000
    got = replay(ReplaySource(path, speed=0, partitions=2, rebase=True))
    after = time.time() * 1000
    assert len(got) == 3
    assert all(before - 1 <= item.seen_ms <= after + 1 for item in got)
