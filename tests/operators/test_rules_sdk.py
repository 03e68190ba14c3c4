"""The AssemblyScript SDK: `scorpius rules build` output loads, is import-free, and matches."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from flows.commands.rules import build_assemblyscript
from flows.config import PACKAGE_ROOT
from operators.rules import RuleEngine
from tests.operators.rules_txs import by_hash, sample_enriched

SDK = PACKAGE_ROOT / "rules" / "sdk" / "assemblyscript"
TXS = sample_enriched()


@pytest.fixture(scope="module")
def built(asc: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("as")
    build_assemblyscript(SDK / "priority_fee_spike.ts", directory / "priority_fee_spike.wasm", asc)
    return directory


def test_built_module_imports_nothing(built: Path) -> None:
    module = wasmtime.Module.from_file(wasmtime.Engine(), str(built / "priority_fee_spike.wasm"))
    assert module.imports == []
    assert {e.name for e in module.exports} >= {"memory", "alloc", "eval_batch", "scorpius_meta"}


def test_priority_fee_spike_matches_a_real_tx_and_not_near_misses(built: Path) -> None:
    hit = "0x18b4103748878d8e79a4ffa5cfd337b5e1a46f69d775877f44070b5bb2bfc216"  # call, 971 gwei tip
    below = "0x75665cbd59dfb9e747d2a455af1c58b172ea5e9e8ef8fc653bbc6ef804b08835"  # call, 188 gwei
    transfer = "0x565ad88dfebc797a54fa195cff4424f09fedd5d896bd6628ada455310d1eb869"  # 1229, no call
    engine = RuleEngine.from_dir(built)
    matches, errs = engine.evaluate([by_hash(TXS, h) for h in (below, hit, transfer)])
    assert errs == []
    assert [(m.rule_id, m.tx_hash, m.severity) for m in matches] == [
        ("priority-fee-spike", hit, "medium")
    ]
    assert matches[0].message.startswith("0x") and "971014066866 wei/gas" in matches[0].message


def test_build_error_is_reported(asc: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ts"
    bad.write_text("export function eval_batch(): u32 { return nope; }\n")
    with pytest.raises(RuntimeError, match="asc failed"):
        build_assemblyscript(bad, tmp_path / "bad.wasm", asc)
