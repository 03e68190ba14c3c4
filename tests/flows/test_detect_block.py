"""``scorpius detect-block``: one JSON line per finding, exact integers, same code as the flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from operators.mev import detect_block as detect
from tests.operators.mev.conftest import DATA, block, expected
from tests.operators.mev.test_reference_extras import REFERENCE_PROTOCOLS


def _run(argv: list[str]) -> int:
    return main(["detect-block", *argv])


def test_prints_the_sandwich_of_12775690(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(DATA / "blocks" / "12775690.json.gz")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [want] = expected("sandwiches/12775690.json")
    [sandwich] = [line for line in lines if line["kind"] == "sandwich"]
    data = sandwich["data"]
    assert data["profit_amount"] == want["profit_amount"]  # parsed from JSON: exact int
    assert data["frontrun"]["tx_position"] == want["frontrun_swap"]["transaction_position"]
    assert data["backrun"]["trace_address"] == want["backrun_swap"]["trace_address"]
    assert sandwich["tx_hashes"][0] == want["frontrun_swap"]["transaction_hash"]
    assert sandwich["tx_hashes"][-1] == want["backrun_swap"]["transaction_hash"]
    # Same findings, same keys as the library entry point the flow uses.
    assert [line["key"] for line in lines] == [d.key for d in detect(block(12775690))]


def test_swaps_flag_adds_every_swap(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--swaps", str(DATA / "blocks" / "12914944.json.gz")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [line["kind"] for line in lines]
    # The reference counts its protocols' swaps (CoW's are extra: test_reference_extras.py).
    theirs = [
        x for x in lines if x["kind"] == "swap" and x["data"]["protocol"] in REFERENCE_PROTOCOLS
    ]
    assert len(theirs) == expected("arbitrages.json")["12914944"]["swap_count"]
    assert kinds.count("arbitrage") == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "cannot read"),
        ('{"block_number": 1, "traces": [{"type": "call", "action": {}}]}', "missing field"),
    ],
)
def test_unreadable_file_is_an_error(
    tmp_path, capsys: pytest.CaptureFixture[str], content: str, reason: str
) -> None:
    bad = tmp_path / "block.json"
    bad.write_text(content)
    assert _run([str(bad)]) == 2
    assert reason in capsys.readouterr().err


def _sandwiches(out: str) -> list[dict]:
    return [x for x in map(json.loads, out.splitlines()) if x["kind"] == "sandwich"]


def test_the_users_pool_factories_name_the_exchange(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = str(DATA / "blocks" / "12775690.json.gz")
    assert _run([path]) == 0
    [bundled] = _sandwiches(capsys.readouterr().out)
    family = bundled["data"]["exchange"]
    assert family is not None
    # The user's file replaces that exchange's factory: its pairs are no longer recognised.
    factories = tmp_path / "factories.json"
    other = {"factory": "0x" + "fa" * 20, "init_code_hash": "0x" + "11" * 32}
    factories.write_text(json.dumps({"1": {"v2": {family: other}}}))
    monkeypatch.setenv("SCORPIUS_DETECT_AMM_FACTORIES", str(factories))
    assert _run([path]) == 0
    [replaced] = _sandwiches(capsys.readouterr().out)
    assert replaced["data"]["exchange"] is None
    assert replaced["key"] == bundled["key"]
    factories.write_text("[not json")
    assert _run([path]) == 2
    assert "SCORPIUS_DETECT_AMM_FACTORIES" in capsys.readouterr().err
