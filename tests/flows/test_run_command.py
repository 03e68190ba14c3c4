"""`scorpius run` end to end in a subprocess: the README's command, then a backtest of its archive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MEMPOOL_KINDS = {"replacement", "sandwich_attempt", "frontrun_copy"}


def scorpius(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )


def detections(out: Path) -> list[dict[str, object]]:
    lines = (out / "detections.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def archive_state(root: Path) -> dict[str, tuple[int, list[str]]]:
    """Each archive table's Delta version and its rows (as sorted JSON)."""
    from deltalake import DeltaTable

    state: dict[str, tuple[int, list[str]]] = {}
    for folder in sorted(p for p in root.iterdir() if (p / "_delta_log").is_dir()):
        table = DeltaTable(str(folder))
        rows = sorted(json.dumps(r, default=str) for r in table.to_pyarrow_table().to_pylist())
        state[folder.name] = (table.version(), rows)
    return state


@pytest.mark.slow
def test_run_then_backtest_the_archive_finds_the_same_mempool_detections(tmp_path: Path) -> None:
    live_out, replay_out = tmp_path / "live", tmp_path / "backtest"
    live = scorpius("run", "--quiet", "-o", str(live_out))
    summary = json.loads((live_out / "summary.json").read_text())
    assert "Scorpius run summary" in live.stderr
    for stage in ("read", "normalized", "decoded", "detected", "rule_matches", "alerts"):
        assert f"  {stage} " in live.stderr and summary[stage] > 0, stage
    assert summary["dead_lettered"] == 0
    parquet = list((live_out / "archive" / "transactions").rglob("*.parquet"))
    assert parquet and all("date=" in str(p) for p in parquet)
    # One commit per table of the small sample: a few files per date, not one per hour.
    assert len(parquet) == len({p.parent for p in parquet})
    kinds = {d["kind"] for d in detections(live_out)}
    assert {"sandwich", "arbitrage", "liquidation", "sandwich_attempt"} <= kinds

    # Issue 16: a rerun of the same input leaves the same archive (no new commit, no new row).
    before = archive_state(live_out / "archive")
    scorpius("run", "--quiet", "-o", str(live_out))
    assert archive_state(live_out / "archive") == before

    scorpius("run", "--quiet", "-o", str(replay_out), "--archive", str(live_out / "archive"))
    live_keys = {d["key"] for d in detections(live_out) if d["kind"] in MEMPOOL_KINDS}
    replay_keys = {d["key"] for d in detections(replay_out) if d["kind"] in MEMPOOL_KINDS}
    assert live_keys and replay_keys == live_keys
