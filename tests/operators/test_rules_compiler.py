"""The declarative compiler: generated rule sets agree with a plain-Python reading of the rules.

The reference below evaluates each predicate straight from the EnrichedTx (no ABI, no index), so
a wrong offset, a wrong hash-table probe, a wrong u256 limb order or a rule left out of its index
bucket shows up as a difference in the set of (rule, tx) matches.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from operators.records import KINDS, EnrichedTx
from operators.rules import RuleEngine, RuleLoadError
from operators.rules.abi import swap_slippage
from operators.rules.compiler import parse_rules
from tests.operators.rules_txs import sample_enriched

TXS = sample_enriched()


def _slippage(e: EnrichedTx) -> float | None:
    if not e.swaps:
        return None
    s = e.swaps[0]
    return swap_slippage(
        s.exact_input, s.amount_out_min if s.exact_input else s.amount_in_max, s.quote
    )


GETTERS: dict[str, Any] = {
    "to": lambda e: e.tx.to,
    "sender": lambda e: e.tx.sender,
    "token": lambda e: e.token,
    "counterparty": lambda e: e.counterparty,
    "selector": lambda e: e.tx.selector,
    "kind": lambda e: e.kind,
    "value_eth": lambda e: Decimal(e.tx.value) / 10**18,
    "token_amount": lambda e: e.token_amount,
    "nonce": lambda e: e.tx.nonce,
    "gas": lambda e: e.tx.gas,
    "chain": lambda e: e.tx.chain_id,
    "to_label": lambda e: e.to_label,
    "swap.slippage": _slippage,
}
NUMERIC = {"value_eth", "token_amount", "nonce", "gas", "chain", "swap.slippage"}


def reference(field: str, op: str, values: list[Any], etx: EnrichedTx) -> bool:
    actual = GETTERS[field](etx)
    if op == "missing":
        return actual is None
    if op == "present":
        return actual is not None
    if actual is None:
        return False
    if field in NUMERIC:
        actual = Decimal(actual)
        values = [Decimal(str(v)) for v in values]
    return {
        "==": lambda: actual == values[0],
        "!=": lambda: actual != values[0],
        ">": lambda: actual > values[0],
        ">=": lambda: actual >= values[0],
        "<": lambda: actual < values[0],
        "<=": lambda: actual <= values[0],
        "in": lambda: actual in values,
        "not in": lambda: actual not in values,
    }[op]()


def _values(field: str, rnd: random.Random) -> list[Any]:
    seen = [GETTERS[field](e) for e in TXS]
    present = [v for v in seen if v is not None]
    if field == "value_eth":
        return [Decimal(rnd.choice(present)).quantize(Decimal("0.001"))]
    if field in NUMERIC:
        return [rnd.choice(present)]
    if field == "kind":
        return rnd.sample(KINDS, rnd.randint(1, 3))
    picks = [rnd.choice(present) for _ in range(rnd.randint(1, 6))]
    if rnd.random() < 0.3:  # values no tx has
        absent = {"to_label": "Nobody", "selector": "0x" + format(rnd.getrandbits(32), "08x")}
        picks.append(absent.get(field, "0x" + format(rnd.getrandbits(160), "040x")))
    return picks


def _predicate(rnd: random.Random) -> tuple[str, str, list[Any]]:
    field = rnd.choice(list(GETTERS))
    if field in ("to_label", "token", "counterparty", "swap.slippage") and rnd.random() < 0.3:
        return field, rnd.choice(["missing", "present"]), []
    values = _values(field, rnd)
    if field in NUMERIC:
        op = rnd.choice(["==", "!=", ">", ">=", "<", "<="])
        return field, op, values[:1]
    op = rnd.choice(["in", "not in", "==", "!="]) if len(values) > 1 else rnd.choice(["==", "!="])
    if op in ("==", "!="):
        values = values[:1]
    return field, op, values


def _text(field: str, op: str, values: list[Any]) -> str:
    if op in ("missing", "present"):
        return f"{field} {op}"
    if op in ("in", "not in"):
        return f"{field} {op} [{', '.join(str(v) for v in values)}]"
    return f"{field} {op} {values[0]}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_rules_agree_with_the_reference(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    rules = []
    for i in range(400):
        preds = [_predicate(rnd) for _ in range(rnd.randint(1, 3))]
        rules.append((f"r{i}", preds))
    doc = {"rules": [{"id": rid, "when": [_text(*p) for p in preds]} for rid, preds in rules]}
    (tmp_path / "generated.yaml").write_text(yaml.safe_dump(doc))
    engine = RuleEngine.from_dir(tmp_path)
    matches, errs = engine.evaluate(TXS)
    assert errs == []
    got = {(m.rule_id, m.tx_hash) for m in matches}
    assert len(got) == len(matches), "a rule fired twice for one tx"
    expected = {
        (rid, e.tx.hash)
        for rid, preds in rules
        for e in TXS
        if all(reference(f, op, vals, e) for f, op, vals in preds)
    }
    assert len(expected) > 100  # the generated rules do match things
    assert got == expected


def test_fractional_and_huge_bounds_are_exact(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n"
        "  - {id: third, when: ['value_eth > 0.0000000000000000015']}\n"  # 1.5 wei: > 1 wei
        f"  - {{id: max, when: ['token_amount >= {2**256 - 1}']}}\n"
        "  - {id: over, when: ['gas > 18446744073709551616']}\n"
    )
    one_wei = next(e for e in TXS if e.tx.value == 0)
    from msgspec.structs import replace

    batch = [
        replace(one_wei, tx=replace(one_wei.tx, value=1, hash="0x01")),
        replace(one_wei, tx=replace(one_wei.tx, value=2, hash="0x02")),
        replace(
            one_wei, kind="approval", token_amount=2**256 - 1, tx=replace(one_wei.tx, hash="0x03")
        ),
        replace(
            one_wei, kind="approval", token_amount=2**256 - 2, tx=replace(one_wei.tx, hash="0x04")
        ),
    ]
    matches, _ = RuleEngine.from_dir(tmp_path).evaluate(batch)
    assert sorted((m.rule_id, m.tx_hash) for m in matches) == [("max", "0x03"), ("third", "0x02")]


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        ("valu > 1", "unknown field 'valu'"),
        ("to == 0x1234", "not a 20-byte address"),
        ("kind == swapp", "unknown kind 'swapp'"),
        ("to in $nowhere", "unknown list '$nowhere'"),
        ("to > 5", "to cannot be compared with >"),
        ("value_eth > lots", "not a number"),
        ("selector == 0x12", "not a 4-byte selector"),
        ("sender missing", "sender is always present"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_reason(
    tmp_path: Path, predicate: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"rules": [{"id": "bad", "when": [predicate]}]}))
    with pytest.raises(RuleLoadError, match=re.escape(message)) as info:
        parse_rules([path])
    assert str(path) in str(info.value) and "'bad'" in str(info.value)


def test_duplicate_ids_across_files_keep_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - {id: same, when: ['value_eth > 0']}\n")
    (tmp_path / "b.yaml").write_text("rules:\n  - {id: same, when: ['value_eth == 0']}\n")
    engine = RuleEngine.from_dir(tmp_path)
    matches, errs = engine.evaluate(TXS)
    assert {m.tx_hash for m in matches} == {e.tx.hash for e in TXS if e.tx.value > 0}
    assert len(errs) == 1 and "duplicate id" in errs[0].reason and "b.yaml" in errs[0].reason
