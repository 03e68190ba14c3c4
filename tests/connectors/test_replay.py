"""The replay source: recorded order per partition, pacing, rebasing, bad lines as dead letters."""

from __future__ import annotations

import time
from pathlib import Path

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, run_main

from connectors.replay import Pacing, ReplaySource, read_items
from operators.records import DeadLetter, RawItem

T0 = 1_700_000_000_000  # recorded times are real unix ms (2023-11-14)


def recording(path: Path, n: int, step_ms: int = 1_000) -> Path:
    with path.open("wb") as fh:
        for i in range(n):
            line = {
                "kind": "tx",
                "chain_id": 1,
                "source": "rec",
                "seen_ms": T0 + i * step_ms,
                "payload": {"hash": f"0x{i:064x}", "n": i},
            }
            fh.write(orjson.dumps(line) + b"\n")
    return path


def replay(source: ReplaySource) -> tuple[list[RawItem | DeadLetter], float]:
    out: list[RawItem | DeadLetter] = []
    flow = Dataflow("replay")
    op.output("out", op.input("in", flow, source), TestingSink(out))
    start = time.monotonic()
    run_main(flow)
    return out, time.monotonic() - start


def test_partitions_share_the_file_and_keep_recorded_order(tmp_path: Path) -> None:
    path = recording(tmp_path / "r.jsonl", 10)
    shares = [list(read_items(path, p, 3)) for p in range(3)]
    assert sorted(i.seen_ms for share in shares for i in share if isinstance(i, RawItem)) == [
        T0 + i * 1_000 for i in range(10)
    ]
    for share in shares:
        times = [i.seen_ms for i in share if isinstance(i, RawItem)]
        assert times == sorted(times)


def test_payload_bytes_are_the_recorded_json(tmp_path: Path) -> None:
    path = recording(tmp_path / "r.jsonl", 2)
    first = next(iter(read_items(path)))
    assert isinstance(first, RawItem)
    assert orjson.loads(first.payload) == {"hash": "0x" + "0" * 64, "n": 0}


def test_rate_paces_items_whatever_their_recorded_times(tmp_path: Path) -> None:
    # Recorded a day apart each; at 40 items/s, 20 items take about half a second.
    path = recording(tmp_path / "r.jsonl", 20, step_ms=86_400_000)
    out, elapsed = replay(ReplaySource(path, Pacing(rate=40.0)))
    assert len(out) == 20
    assert 0.4 <= elapsed < 5.0


def test_rebase_stamps_items_with_the_replay_time(tmp_path: Path) -> None:
    path = recording(tmp_path / "r.jsonl", 5)
    before = int(time.time() * 1000)
    out, _ = replay(ReplaySource(path, Pacing(rebase=True)))
    after = int(time.time() * 1000)
    assert all(isinstance(i, RawItem) and before <= i.seen_ms <= after for i in out)


def test_a_corrupt_line_becomes_a_dead_letter_and_the_replay_goes_on(tmp_path: Path) -> None:
    path = recording(tmp_path / "r.jsonl", 3)
    path.write_bytes(path.read_bytes() + b"{not json\n" + path.read_bytes())
    out, _ = replay(ReplaySource(path))
    letters = [i for i in out if isinstance(i, DeadLetter)]
    assert len(out) == 7 and len(letters) == 1
    assert letters[0].stage == "replay" and "r.jsonl:4" in letters[0].reason


def test_a_time_out_of_range_becomes_a_dead_letter_and_pacing_goes_on(tmp_path: Path) -> None:
    # The poison pill of issue 14: at recorded pace, a line stamped 10**23 ms would have made the
    # replay wait forever (and datetime overflow); one stamped before Ethereum existed is no
    # recording of it either. Both become dead letters; the recorded spacing of the rest holds.
    path = recording(tmp_path / "r.jsonl", 3, step_ms=100)
    good = path.read_bytes().splitlines(keepends=True)
    bad = [
        good[0].replace(str(T0).encode(), b"99999999999999999999999"),
        good[0].replace(str(T0).encode(), b"-5"),
    ]
    path.write_bytes(good[0] + bad[0] + good[1] + bad[1] + good[2])
    out, elapsed = replay(ReplaySource(path, Pacing(speed=1.0)))
    letters = [i for i in out if isinstance(i, DeadLetter)]
    assert [i.seen_ms for i in out if isinstance(i, RawItem)] == [T0, T0 + 100, T0 + 200]
    assert [letter.reason.split(":")[0] for letter in letters] == ["timestamp out of range"] * 2
    assert "r.jsonl:2" in letters[0].reason and "ahead of now" in letters[0].reason
    assert "r.jsonl:4" in letters[1].reason and "genesis" in letters[1].reason
    assert all(0 < letter.at_ms <= time.time() * 1000 for letter in letters)
    assert elapsed < 30.0
