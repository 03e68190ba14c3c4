"""``scorpius rules test|backtest|compile`` on real txs written as EnrichedTx JSON lines."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import bytewax.operators as op
import msgspec
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main

from connectors.delta_archive import DeltaArchiveSink
from flows.commands import rules as rules_command
from flows.config import BUNDLED_SAMPLE, EXAMPLE_RULES, Config, EnrichConfig, LimitsConfig
from flows.steps.archive import archive
from operators.records import DeadLetter, EnrichedTx, RuleMatch, encode_json
from operators.rules import RuleEngine
from tests.operators.rules_txs import sample_enriched


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scorpius")
    rules_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("txs") / "enriched.jsonl.gz"
    with gzip.open(path, "wb") as f:
        for etx in sample_enriched():
            f.write(encode_json(etx) + b"\n")
        f.write(b'{"not": "a tx"}\n')
    return path


def test_rules_test_prints_matches_and_timing(
    enriched: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _main(["rules", "test", str(EXAMPLE_RULES), "--txs", str(enriched), "--show", "500"]) == 0
    )
    out, err = capsys.readouterr()
    assert "7 rules in 2 modules" in out
    assert "0xc48e047f03aeded321c3f0c9d5591e5d1edf6b72971a1e04e4fc9294445aee5d" in out
    assert "620.5 ETH from 0x3d67978bb3cff6bed00dbaac61f819d24a4d3925" in out
    assert "1118 txs" in out and "tx/s" in out
    assert "not an EnrichedTx" in err  # the bad line is reported, not fatal
    assert _main(["rules", "test", str(EXAMPLE_RULES), "--txs", str(enriched), "--strict"]) == 1


def test_rules_backtest_counts_and_writes_matches(
    enriched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "matches.jsonl"
    assert (
        _main(
            [
                "rules",
                "backtest",
                str(EXAMPLE_RULES),
                "--txs",
                str(enriched),
                "--out",
                str(out_path),
            ]
        )
        == 0
    )
    out, _ = capsys.readouterr()
    matches = [
        msgspec.json.decode(line, type=RuleMatch) for line in out_path.read_bytes().splitlines()
    ]
    watch = sum(m.rule_id == "watchlist-interaction" for m in matches)
    assert watch > 0 and f"{watch:8} watchlist-interaction" in out
    assert "dead letters: 1" in out


def test_rules_compile_writes_the_wat(tmp_path: Path) -> None:
    out = tmp_path / "rules.wat"
    assert _main(["rules", "compile", str(EXAMPLE_RULES), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("(module") and '(export "eval_batch")' in text


def test_rules_test_defaults_to_the_bundled_sample(capsys: pytest.CaptureFixture[str]) -> None:
    """Normalized and enriched by the flow's own operators, the sample meets the example rules."""
    assert _main(["rules", "test", str(EXAMPLE_RULES), "--show", "0"]) == 0
    out, _ = capsys.readouterr()
    counts = {
        line.split()[1]: int(line.split()[0])
        for line in out.splitlines()
        if line.strip() and line.split()[0].isdigit() and len(line.split()) == 2
    }
    assert counts.get("watchlist-interaction", 0) > 0
    assert counts.get("large-native-transfer", 0) > 0
    assert "txs," in out


def test_rules_backtest_over_the_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    txs = sample_enriched()
    flow = Dataflow("write_archive")
    archive(
        "archive",
        op.input("in", flow, TestingSource(txs)),
        DeltaArchiveSink(str(tmp_path), "transactions"),
    )
    run_main(flow)
    assert _main(["rules", "backtest", str(EXAMPLE_RULES), "--archive", str(tmp_path)]) == 0
    out, _ = capsys.readouterr()
    expected, _ = RuleEngine.from_dir(EXAMPLE_RULES).evaluate(txs)
    assert f"{len(txs)} txs, {len(expected)} matches" in out


def test_recorded_txs_take_the_configured_limits_and_labels(tmp_path: Path) -> None:
    # `scorpius rules --recorded` reads recordings through the flow's own normalize and enrich:
    # the user's size limits dead-letter what the flow would, the user's labels name senders.
    default = list(rules_command.recorded_enriched([BUNDLED_SAMPLE], Config()))
    txs = [i for i in default if isinstance(i, EnrichedTx)]
    big = max(txs, key=lambda t: len(t.tx.input))
    limit = (len(big.tx.input) - 2) // 2 - 1
    cut = Config(limits=LimitsConfig(max_calldata_bytes=limit))
    after = list(rules_command.recorded_enriched([BUNDLED_SAMPLE], cut))
    bad = [i for i in after if isinstance(i, DeadLetter)]
    assert len(bad) > sum(isinstance(i, DeadLetter) for i in default)
    assert any("too large in field 'input'" in d.reason for d in bad)
    assert big.tx.hash not in {i.tx.hash for i in after if isinstance(i, EnrichedTx)}

    labels = tmp_path / "labels"
    labels.mkdir()
    sender = txs[0].tx.sender
    (labels / "mine.yaml").write_text(f'{txs[0].tx.chain_id}:\n  "{sender}": {{label: "Mine"}}\n')
    named = rules_command.recorded_enriched(
        [BUNDLED_SAMPLE], Config(enrich=EnrichConfig(labels_dir=str(labels)))
    )
    first = next(i for i in named if isinstance(i, EnrichedTx))
    assert txs[0].sender_label != "Mine" and first.sender_label == "Mine"
