"""The rule host's sandbox: fuel, memory, imports, strikes, and hot reload of a rules directory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from operators.rules import Limits, RuleEngine, RuleLoadError
from operators.rules.host import compile_module, new_engine
from tests.operators import rules_wat
from tests.operators.rules_txs import sample_enriched

TXS = sample_enriched()[:64]
LIMITS = Limits(memory_bytes=4 << 20, fuel_per_call=1_000_000, fuel_per_tx=10_000)


def engine(directory: Path, **kwargs: object) -> RuleEngine:
    kwargs.setdefault("limits", LIMITS)
    kwargs.setdefault("reload_interval_s", 0.0)
    return RuleEngine.from_dir(directory, **kwargs)


def test_infinite_loop_is_stopped_by_fuel_within_a_bound(tmp_path: Path) -> None:
    rules_wat.write(tmp_path, "loop.wat", rules_wat.INFINITE_LOOP)
    rules_wat.write(tmp_path, "all.wat", rules_wat.MATCH_ALL)
    eng = engine(tmp_path)
    started = time.monotonic()
    matches, errs = eng.evaluate(TXS)
    elapsed = time.monotonic() - started
    # Fuel for 64 txs is 1.64M instructions: milliseconds, not the test timeout.
    assert elapsed < 5.0
    assert [e.reason.split(":")[0] for e in errs] == ["rule fuel"]
    assert "loop.wat" in errs[0].reason and TXS[0].tx.hash in errs[0].payload
    # The other module kept matching.
    assert len(matches) == len(TXS)


def test_memory_bomb_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    rules_wat.write(tmp_path, "bomb.wat", rules_wat.MEMORY_BOMB)
    eng = engine(tmp_path)
    _, errs = eng.evaluate(TXS)
    assert [e.reason.split(":")[0] for e in errs] == ["rule trap"]
    assert "out of bounds" in errs[0].reason
    bomb = eng.modules["bomb.wat"]
    assert bomb._memory.data_len(bomb._store) <= LIMITS.memory_bytes


def test_module_asking_for_more_memory_than_the_limit_is_refused(tmp_path: Path) -> None:
    rules_wat.write(tmp_path, "huge.wat", rules_wat.MATCH_ALL, pages=1000)  # 62.5 MiB > 4 MiB
    eng = engine(tmp_path)
    assert "huge.wat" not in eng.modules
    _, errs = eng.evaluate(TXS)
    assert len(errs) == 1 and errs[0].reason.startswith("rule load error:")
    assert "cannot instantiate" in errs[0].reason


def test_wasi_import_is_refused_at_load(tmp_path: Path) -> None:
    signature = "(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)"
    wasi = f'(import "wasi_snapshot_preview1" "path_open" (func {signature}))'
    source = rules_wat.module(rules_wat.MATCH_ALL, imports=wasi)
    with pytest.raises(RuleLoadError, match=r"imports wasi_snapshot_preview1.path_open: WASI"):
        compile_module(new_engine(), "fs.wat", source)
    (tmp_path / "fs.wat").write_text(source)
    rules_wat.write(tmp_path, "all.wat", rules_wat.MATCH_ALL)
    eng = engine(tmp_path)
    assert set(eng.modules) == {"all.wat"}
    matches, errs = eng.evaluate(TXS)
    assert len(matches) == len(TXS)
    assert len(errs) == 1 and "fs.wat" in errs[0].reason and "WASI" in errs[0].reason


def test_other_imports_are_refused_and_log_is_allowed(tmp_path: Path) -> None:
    env = '(import "env" "abort" (func (param i32)))'
    with pytest.raises(RuleLoadError, match=r"imports env.abort: not allowed"):
        compile_module(new_engine(), "env.wat", rules_wat.module(rules_wat.MATCH_ALL, imports=env))
    log = '(import "scorpius" "log" (func (param i32 i32)))'
    compile_module(new_engine(), "log.wat", rules_wat.module(rules_wat.MATCH_ALL, imports=log))


def test_trapping_module_is_disabled_after_n_strikes_while_others_keep_matching(
    tmp_path: Path,
) -> None:
    rules_wat.write(tmp_path, "trap.wat", rules_wat.TRAP)
    rules_wat.write(tmp_path, "all.wat", rules_wat.MATCH_ALL)
    eng = engine(tmp_path, max_strikes=3)
    reasons = []
    for _ in range(5):
        matches, errs = eng.evaluate(TXS)
        assert len(matches) == len(TXS)
        reasons.append([e.reason.split(":")[0] for e in errs])
    assert reasons == [
        ["rule trap"],
        ["rule trap"],
        ["rule trap", "rule disabled"],
        [],
        [],
    ]
    assert eng.disabled == {"trap.wat"}


def _bump_mtime(path: Path) -> None:
    # Coarse-mtime filesystems: make sure the change is visible to the poll.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_hot_reload_adds_changes_and_removes_rules(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    big = [e for e in TXS if e.tx.value > 0]
    assert eng.evaluate(big) == ([], [])

    rule = tmp_path / "value.yaml"
    rule.write_text("rules:\n  - id: any-value\n    when: [value_eth > 0]\n")
    matches, _ = eng.evaluate(big)
    assert {m.tx_hash for m in matches} == {e.tx.hash for e in big}

    threshold = sorted(e.tx.value for e in big)[len(big) // 2] / 10**18
    rule.write_text(f"rules:\n  - id: any-value\n    when: [value_eth > {threshold!r}]\n")
    _bump_mtime(rule)
    matches, _ = eng.evaluate(big)
    expected = {e.tx.hash for e in big if e.tx.value / 10**18 > threshold}
    assert 0 < len(expected) < len(big)
    assert {m.tx_hash for m in matches} == expected

    wat = rules_wat.write(tmp_path, "all.wat", rules_wat.MATCH_ALL)
    matches, _ = eng.evaluate(big)
    assert len(matches) == len(expected) + len(big)

    rule.unlink()
    wat.unlink()
    assert eng.evaluate(big) == ([], [])
    assert eng.modules == {}


def test_broken_edit_keeps_the_previous_version_running(tmp_path: Path) -> None:
    rule = tmp_path / "value.yaml"
    rule.write_text("rules:\n  - id: any-value\n    when: [value_eth > 0]\n")
    eng = engine(tmp_path)
    before, _ = eng.evaluate(TXS)
    rule.write_text("rules:\n  - id: any-value\n    when: [value_ehh > 0]\n")
    _bump_mtime(rule)
    after, errs = eng.evaluate(TXS)
    assert [m.key for m in after] == [m.key for m in before] and before
    assert len(errs) == 1 and "unknown field 'value_ehh'" in errs[0].reason


def test_reload_is_polled_at_most_once_per_interval(tmp_path: Path) -> None:
    now = [100.0]
    eng = engine(tmp_path, reload_interval_s=5.0, clock=lambda: now[0])
    eng.evaluate(TXS)
    rules_wat.write(tmp_path, "all.wat", rules_wat.MATCH_ALL)
    now[0] += 1.0
    assert eng.evaluate(TXS) == ([], [])
    now[0] += 5.0
    matches, _ = eng.evaluate(TXS)
    assert len(matches) == len(TXS)


def test_compiled_declarative_module_is_cached_by_content(tmp_path: Path) -> None:
    rules_dir, cache = tmp_path / "rules", tmp_path / "cache"
    rules_dir.mkdir()
    (rules_dir / "value.yaml").write_text("rules:\n  - id: any-value\n    when: [value_eth > 0]\n")
    first = engine(rules_dir, cache_dir=cache)
    entries = list(cache.glob("*.cwasm"))
    assert len(entries) == 1
    expected, _ = first.evaluate(TXS)
    # A second engine (another worker, a restart) loads the cached artifact and matches the same.
    second = engine(rules_dir, cache_dir=cache)
    assert list(cache.glob("*.cwasm")) == entries
    got, _ = second.evaluate(TXS)
    assert [m.key for m in got] == [m.key for m in expected] and got
    # A corrupt entry is ignored and rewritten, not trusted.
    entries[0].write_bytes(b"not a module")
    third = engine(rules_dir, cache_dir=cache)
    assert [m.key for m in third.evaluate(TXS)[0]] == [m.key for m in expected]
    assert entries[0].read_bytes() != b"not a module"


def test_more_matches_than_the_output_area_are_all_delivered(tmp_path: Path) -> None:
    """With no room reserved, the host grows the output area to the count and runs again."""
    rules_wat.write(tmp_path, "all.wat", rules_wat.MATCH_ALL)
    eng = engine(tmp_path, limits=Limits(matches_per_tx=0))
    matches, errs = eng.evaluate(TXS)
    assert errs == []
    assert [m.tx_hash for m in matches] == [e.tx.hash for e in TXS]


def test_log_import_writes_to_the_worker_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_import = '(import "scorpius" "log" (func $log (param i32 i32)))'
    body = "(i32.store8 (i32.const 0) (i32.const 104)) (i32.store8 (i32.const 1) (i32.const 105)) (call $log (i32.const 0) (i32.const 2)) (i32.const 0)"
    rules_wat.write(tmp_path, "talk.wat", body, imports=log_import)
    with caplog.at_level("INFO", logger="operators.rules.host"):
        assert engine(tmp_path).evaluate(TXS) == ([], [])
    assert "rule talk.wat: hi" in caplog.text


def test_match_outside_the_batch_is_a_fault_not_a_crash(tmp_path: Path) -> None:
    bogus = """
    (i32.store (local.get $out) (i32.const 99999))
    (i32.store offset=4 (local.get $out) (i32.const 0))
    (i32.store offset=8 (local.get $out) (i32.const 2))
    (i32.const 1)"""
    rules_wat.write(tmp_path, "bogus.wat", bogus)
    matches, errs = engine(tmp_path).evaluate(TXS)
    assert matches == []
    assert [e.reason.split(":")[0] for e in errs] == ["rule output"]
    assert "match for tx 99999 in a batch of 64" in errs[0].reason


def test_a_trap_on_one_tx_costs_only_that_tx(tmp_path: Path) -> None:
    creations = [e for e in sample_enriched() if e.kind == "contract_creation"]
    others = [e for e in TXS if e.kind != "contract_creation"][:40]
    batch = others[:20] + creations[:2] + others[20:]
    rules_wat.write(tmp_path, "picky.wat", rules_wat.TRAP_ON_CREATION)
    eng = engine(tmp_path)
    matches, errs = eng.evaluate(batch)
    assert [m.tx_hash for m in matches] == [e.tx.hash for e in others]
    assert len(errs) == 1 and errs[0].reason.startswith("rule trap: module picky.wat (strike 1)")
    assert json.loads(errs[0].payload)["tx_hashes"] == [e.tx.hash for e in creations[:2]]
    assert eng.modules["picky.wat"].strikes == 1


@pytest.mark.parametrize(
    ("name", "signature"),
    [
        ("fd_write", "(param i32 i32 i32 i32) (result i32)"),
        ("sock_accept", "(param i32 i32 i32) (result i32)"),
        ("sock_recv", "(param i32 i32 i32 i32 i32 i32) (result i32)"),
        ("clock_time_get", "(param i32 i64 i32) (result i32)"),
        ("random_get", "(param i32 i32) (result i32)"),
        ("environ_get", "(param i32 i32) (result i32)"),
    ],
)
def test_wasi_files_sockets_clock_and_environment_are_refused(name: str, signature: str) -> None:
    wasi = f'(import "wasi_snapshot_preview1" "{name}" (func {signature}))'
    with pytest.raises(RuleLoadError, match=rf"imports wasi_snapshot_preview1.{name}: WASI"):
        compile_module(new_engine(), "w.wat", rules_wat.module(rules_wat.MATCH_ALL, imports=wasi))


def test_host_memory_or_table_imports_are_refused() -> None:
    for imports in ('(import "env" "memory" (memory 1))', '(import "env" "t" (table 1 funcref))'):
        source = rules_wat.module(rules_wat.MATCH_ALL, imports=imports)
        with pytest.raises(RuleLoadError, match="not allowed"):
            compile_module(new_engine(), "m.wat", source)


def test_a_start_function_that_loops_is_stopped_by_fuel_at_load(tmp_path: Path) -> None:
    source = rules_wat.module(rules_wat.MATCH_ALL).replace(
        '(func (export "alloc")',
        '(func $spin (loop $l (br $l)))\n  (start $spin)\n  (func (export "alloc")',
    )
    (tmp_path / "spin.wat").write_text(source)
    started = time.monotonic()
    eng = engine(tmp_path)
    assert time.monotonic() - started < 5.0
    assert "spin.wat" not in eng.modules
    _, errs = eng.evaluate(TXS)
    assert len(errs) == 1 and "cannot instantiate" in errs[0].reason
