"""The whole graph on recorded input, through bytewax's own runtime."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from bytewax.testing import cluster_main, run_main

from flows.config import BUNDLED_SAMPLE, Config, OutputConfig, SourceConfig
from flows.mempool import build_flow

SENDER = "0x" + "11" * 20
ROUTER_LIKE = "0x" + "22" * 20


def rpc_tx(hash_byte: str, nonce: int, max_fee: int, **extra: object) -> dict[str, object]:
    tx: dict[str, object] = {
        "hash": "0x" + hash_byte * 32,
        "from": SENDER,
        "to": ROUTER_LIKE,
        "nonce": hex(nonce),
        "value": "0x0",
        "gas": "0x5208",
        "type": "0x2",
        "chainId": "0x1",
        "input": "0x",
        "maxFeePerGas": hex(max_fee),
        "maxPriorityFeePerGas": hex(max_fee // 10),
        "v": "0x0",
        "r": "0x1",
        "s": "0x1",
        "accessList": [],
    }
    tx.update(extra)
    return tx


def write_replay(path: Path, records: list[tuple[str, int, bytes]]) -> None:
    with path.open("wb") as fh:
        for kind, seen_ms, payload in records:
            line = {
                "kind": kind,
                "chain_id": 1,
                "source": "test",
                "seen_ms": seen_ms,
                "payload": orjson.Fragment(payload),
            }
            fh.write(orjson.dumps(line) + b"\n")


def config_for(replay: Path, out: Path, partitions: int = 2) -> Config:
    return Config(
        source=SourceConfig(kind="replay", replay_path=str(replay), replay_partitions=partitions),
        output=OutputConfig(dir=str(out), console=False),
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_replacement_and_dead_letters_reach_their_outputs(tmp_path: Path) -> None:
    now_ms = 1_700_000_000_000
    replay = tmp_path / "in.jsonl"
    write_replay(
        replay,
        [
            ("tx", now_ms, orjson.dumps(rpc_tx("aa", 5, 10_000_000_000))),
            ("tx", now_ms + 2_000, orjson.dumps(rpc_tx("bb", 5, 13_000_000_000))),
            ("tx", now_ms + 2_500, b'{"hash": "0x1234"}'),
            # A corrupt recorded line: the replay itself dead-letters it.
            ("tx", now_ms + 3_000, b"not json at all"),
        ],
    )
    out = tmp_path / "out"
    run_main(build_flow(config_for(replay, out)))

    (detection,) = read_jsonl(out / "detections.jsonl")
    assert detection["kind"] == "replacement"
    assert detection["tx_hashes"] == ["0x" + "aa" * 32, "0x" + "bb" * 32]
    assert detection["data"]["ms_between"] == 2_000
    (alert,) = read_jsonl(out / "alerts.jsonl")
    assert alert["origin"] == "detector:replacement"
    dead = read_jsonl(out / "dead_letters.jsonl")
    assert sorted(d["stage"] for d in dead) == ["normalize", "replay"]
    assert all(d["reason"] for d in dead)
    assert any("0x1234" in d["payload"] for d in dead)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["read"] == 4
    assert summary["normalized"] == 2
    assert summary["dead_lettered"] == 2
    assert summary["detected"] == 1


def run_sample(out: Path, workers: int, partitions: int) -> dict[str, Any]:
    cfg = config_for(BUNDLED_SAMPLE, out, partitions=partitions)
    cluster_main(build_flow(cfg), [], 0, worker_count_per_proc=workers)
    totals: dict[str, Any] = json.loads((out / "summary.json").read_text())
    totals["detection_keys"] = sorted(d["key"] for d in read_jsonl(out / "detections.jsonl"))
    return totals


@pytest.mark.slow
def test_two_workers_give_the_same_totals_as_one(tmp_path: Path) -> None:
    one = run_sample(tmp_path / "w1", workers=1, partitions=1)
    two = run_sample(tmp_path / "w2", workers=2, partitions=1)
    assert one == two
    assert one["read"] > 9000 and one["normalized"] > 9000
    assert one["dead_lettered"] == 0  # recorded order kept per key: nothing is late


@pytest.mark.slow
def test_partitioned_replay_accounts_for_every_item(tmp_path: Path) -> None:
    one = run_sample(tmp_path / "p1", workers=1, partitions=1)
    spread = run_sample(tmp_path / "p4", workers=2, partitions=4)
    for stage in ("read", "normalized", "blocks", "decoded"):
        assert spread[stage] == one[stage], stage
    # Disorder across partitions may only turn window input into "late" dead letters.
    late = read_jsonl(tmp_path / "p4" / "dead_letters.jsonl")
    windows = {"replacement", "sandwich_attempt", "frontrun_copy"}
    assert all(d["stage"] in windows and d["reason"].startswith("late:") for d in late)


def test_bundled_sample_is_gzipped_json_lines() -> None:
    with gzip.open(BUNDLED_SAMPLE, "rt") as fh:
        first = json.loads(fh.readline())
    assert set(first) == {"kind", "chain_id", "source", "seen_ms", "payload"}
