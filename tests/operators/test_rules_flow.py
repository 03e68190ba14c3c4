"""rules_op in a real bytewax dataflow: TestingSource -> rules_op -> TestingSink, run_main."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

from flows.config import EXAMPLE_RULES
from flows.steps.rules import rules_op
from operators.records import DeadLetter, EnrichedTx, RuleMatch
from operators.rules import Limits, RuleEngine
from tests.operators import rules_wat
from tests.operators.rules_txs import sample_enriched

TXS = sample_enriched()


def _run(rules_dir: Path, batch_size: int) -> tuple[list[RuleMatch], list[DeadLetter]]:
    flow = Dataflow("rules_test")
    txs = op.input("txs", flow, TestingSource(TXS, batch_size=batch_size))
    factory = functools.partial(RuleEngine.from_dir, rules_dir, limits=Limits(fuel_per_tx=10_000))
    out = rules_op("rules", txs, factory, batch_size=256)
    matches: list[RuleMatch] = []
    errs: list[DeadLetter] = []
    op.output("matches", out.oks, TestingSink(matches))
    op.output("errs", out.errs, TestingSink(errs))
    run_main(flow)
    return matches, errs


def test_flow_matches_what_the_engine_matches() -> None:
    matches, errs = _run(EXAMPLE_RULES, batch_size=100)
    expected, _ = RuleEngine.from_dir(EXAMPLE_RULES).evaluate(TXS)
    assert errs == []
    assert sorted(m.key for m in matches) == sorted(m.key for m in expected)
    assert len(matches) > 20


def test_faulting_module_becomes_dead_letters_in_the_flow(tmp_path: Path) -> None:
    for example in EXAMPLE_RULES.iterdir():
        (tmp_path / example.name).write_bytes(example.read_bytes())
    rules_wat.write(tmp_path, "loop.wat", rules_wat.INFINITE_LOOP)
    matches, errs = _run(tmp_path, batch_size=200)
    # 1118 txs in batches of 200 -> 6 batches; the loop faults 3 times and is then disabled.
    assert [e.reason.split(":")[0] for e in errs] == ["rule fuel"] * 3 + ["rule disabled"]
    assert {m.rule_id for m in matches} >= {"large-native-transfer", "watchlist-interaction"}


def test_hot_reload_while_the_flow_runs(tmp_path: Path) -> None:
    """A step upstream edits the rules directory as txs pass; rules_op follows without restart.

    The edit for tx k happens before rules_op sees tx k, so tx 10 meets v1, tx 20 v2, tx 30 none.
    """
    rule = tmp_path / "live.yaml"
    txs = TXS[:40]
    hashes = [e.tx.hash for e in txs]

    def edit(etx: EnrichedTx) -> EnrichedTx:
        index = hashes.index(etx.tx.hash)
        if index == 10:
            rule.write_text("rules:\n  - {id: live, message: v1, when: ['value_eth >= 0']}\n")
        elif index == 20:
            # A different size too, so the change shows even within one mtime tick.
            rule.write_text(
                "rules:\n  - {id: live, message: v2-changed, when: ['value_eth >= 0']}\n"
            )
        elif index == 30:
            rule.unlink()
        return etx

    flow = Dataflow("hot_reload")
    stream = op.map("edit", op.input("txs", flow, TestingSource(txs, batch_size=1)), edit)
    factory = functools.partial(RuleEngine.from_dir, tmp_path, reload_interval_s=0.0)
    out = rules_op("rules", stream, factory)
    matches: list[RuleMatch] = []
    op.output("matches", out.oks, TestingSink(matches))
    op.output("errs", out.errs, TestingSink([]))
    run_main(flow)
    by_tx = {m.tx_hash: m.message for m in matches}
    assert by_tx[hashes[10]] == "v1"
    assert by_tx[hashes[20]] == "v2-changed"
    assert hashes[30] not in by_tx
    assert not any(h in by_tx for h in hashes[:5] + hashes[35:])
    assert {by_tx[h] for h in hashes[11:20] if h in by_tx} <= {"v1", "v2-changed"}


def test_two_workers_each_get_their_own_engine() -> None:
    """Workers of one process are threads; a wasmtime store must stay on one of them."""
    threads: list[int] = []

    def factory() -> RuleEngine:
        threads.append(threading.get_ident())
        return RuleEngine.from_dir(EXAMPLE_RULES)

    flow = Dataflow("rules_two_workers")
    txs = op.redistribute("spread", op.input("txs", flow, TestingSource(TXS, batch_size=50)))
    out = rules_op("rules", txs, factory, batch_size=256)
    matches: list[RuleMatch] = []
    op.output("matches", out.oks, TestingSink(matches))
    op.output("errs", out.errs, TestingSink([]))
    cluster_main(flow, [], 0, worker_count_per_proc=2)
    expected, _ = RuleEngine.from_dir(EXAMPLE_RULES).evaluate(TXS)
    assert sorted(m.key for m in matches) == sorted(m.key for m in expected)
    assert len(threads) == len(set(threads)) == 2
