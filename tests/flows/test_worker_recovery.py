"""``scorpius worker`` creates bytewax recovery partitions once, on process 0 only."""

from __future__ import annotations

from pathlib import Path

from flows.commands.worker import ensure_recovery_partitions


def parts(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("part-*.sqlite3"))


def test_process_zero_creates_partitions_once(tmp_path: Path) -> None:
    db = tmp_path / "recovery"
    assert ensure_recovery_partitions(db, 0, 4) == 4
    assert parts(db) == [f"part-{i}.sqlite3" for i in range(4)]
    before = {p: (db / p).stat().st_mtime_ns for p in parts(db)}
    # a restart (or a rescale to another count) keeps the existing partitions untouched
    assert ensure_recovery_partitions(db, 0, 8) == 0
    assert {p: (db / p).stat().st_mtime_ns for p in parts(db)} == before


def test_other_processes_hold_no_partitions(tmp_path: Path) -> None:
    db = tmp_path / "recovery"
    assert ensure_recovery_partitions(db, 1, 4) == 0
    assert db.is_dir()
    assert parts(db) == []
