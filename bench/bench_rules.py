"""Rule engine throughput per worker (one thread) over the bundled real mainnet txs.

Over connectors/sample/mainnet.jsonl.gz (normalized and enriched as the flow does). Prints tx/s
for (a) 50 hand-written WAT modules of one rule each, (b) 10,000 generated declarative
rules compiled into one indexed module, and (c) the naive way, one wasm call per rule per tx
(measured on a slice of calls and extrapolated: at 10,000 rules it would take minutes).

    /tmp/probe-venv/bin/python bench/bench_rules.py [--txs 20000] [--rules 10000] [--batch 512]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wasmtime
import yaml

from bench.testbed import rules_wat
from flows.commands.rules import recorded_enriched
from flows.config import BUNDLED_SAMPLE, Config
from operators.records import EnrichedTx
from operators.rules import RuleEngine
from operators.rules.abi import (
    OFF_KIND,
    OFF_SELECTOR,
    OFF_TO,
    OFF_VALUE,
    RECORD_SIZE,
    encode_batch,
)
from operators.rules.compiler import compile_rules, parse_rules
from operators.rules.host import new_engine

# One hand-written rule: a call to one address (to == {addr}) carrying more than {wei} wei, or any
# tx of kind {kind} with a selector equal to {selector}. The module shell (memory, alloc, ABI
# version) is the one the rule host's tests use.
HAND_WRITTEN_BODY = f"""
    (local $r i32) (local $m i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $r (i32.add (local.get $ptr) (i32.mul (local.get $i) (i32.const {RECORD_SIZE}))))
        (if (i32.or
              (i32.and
                (i32.and (i64.eq (i64.load offset={OFF_TO} (local.get $r)) (i64.const {{a0}}))
                         (i64.eq (i64.load offset={OFF_TO + 8} (local.get $r)) (i64.const {{a1}})))
                (i32.and (i32.eq (i32.load offset={OFF_TO + 16} (local.get $r)) (i32.const {{a2}}))
                         (i64.gt_u (i64.load offset={OFF_VALUE} (local.get $r)) (i64.const {{wei}}))))
              (i32.and (i32.eq (i32.load8_u offset={OFF_KIND} (local.get $r)) (i32.const {{kind}}))
                       (i32.eq (i32.load offset={OFF_SELECTOR} (local.get $r)) (i32.const {{selector}}))))
          (then
            (if (i32.lt_u (local.get $n) (local.get $cap))
              (then
                (local.set $m (i32.add (local.get $out) (i32.mul (local.get $n) (i32.const 12))))
                (i32.store (local.get $m) (local.get $i))
                (i32.store offset=4 (local.get $m) (i32.const 0))
                (i32.store offset=8 (local.get $m) (i32.const 2))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n)"""


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def write_hand_written(
    directory: Path, txs: list[EnrichedTx], count: int, rnd: random.Random
) -> None:
    targets = [e for e in txs if e.tx.to and e.tx.selector]
    for i in range(count):
        e = rnd.choice(targets)
        raw = bytes.fromhex(e.tx.to[2:])  # type: ignore[index]
        (directory / f"hand_{i:02d}.wat").write_text(
            rules_wat.module(
                HAND_WRITTEN_BODY.format(
                    a0=_signed(int.from_bytes(raw[0:8], "little"), 64),
                    a1=_signed(int.from_bytes(raw[8:16], "little"), 64),
                    a2=_signed(int.from_bytes(raw[16:20], "little"), 32),
                    wei=rnd.choice([0, 10**16, 10**17, 10**18]),
                    kind=rnd.randrange(7),
                    selector=_signed(
                        int.from_bytes(bytes.fromhex(e.tx.selector[2:10]), "little"),  # type: ignore[index]
                        32,
                    ),
                )
            )
        )


def _address(rnd: random.Random, seen: list[str]) -> str:
    # One watched address in 20 is one the sample really uses, so rules do fire (and a user's
    # watchlist, unlike a benchmark's, rarely matches most txs).
    return rnd.choice(seen) if rnd.random() < 0.05 else "0x" + format(rnd.getrandbits(160), "040x")


def generated_rules(txs: list[EnrichedTx], count: int, rnd: random.Random) -> dict[str, object]:
    """A realistic mix: watchlists by target and sender, token rules, selectors, kind thresholds."""
    tos = sorted({e.tx.to for e in txs if e.tx.to})
    senders = sorted({e.tx.sender for e in txs})
    tokens = sorted({e.token for e in txs if e.token})
    selectors = sorted({e.tx.selector for e in txs if e.tx.selector})
    kinds = ["transfer", "token_transfer", "approval", "swap", "contract_creation", "other"]
    rules = []
    for i in range(count):
        roll = rnd.random()
        if roll < 0.55:
            when = [f"to in [{', '.join(_address(rnd, tos) for _ in range(rnd.randint(1, 5)))}]"]
            if rnd.random() < 0.5:
                when.append(f"value_eth > {rnd.choice([0, 0.1, 1, 10, 100])}")
        elif roll < 0.70:
            when = [f"sender == {_address(rnd, senders)}"]
        elif roll < 0.82:
            when = [
                "kind == approval",
                f"token == {_address(rnd, tokens)}",
                f"token_amount >= {rnd.choice([10**6, 10**18, 2**255])}",
                f"counterparty not in [{_address(rnd, tos)}, {_address(rnd, tos)}]",
            ]
        elif roll < 0.95:
            when = [f"selector == {rnd.choice(selectors)}", f"gas > {rnd.randint(21_000, 500_000)}"]
        else:
            when = [
                f"kind == {rnd.choice(kinds)}",
                f"value_eth > {rnd.randint(1, 5000)}",
                "chain == 1",
            ]
        rules.append(
            {"id": f"gen-{i}", "severity": rnd.choice(["low", "medium", "high"]), "when": when}
        )
    return {"rules": rules}


def throughput(engine: RuleEngine, txs: list[EnrichedTx], batch: int) -> tuple[float, float, int]:
    """(tx/s by wall clock, tx/s by this process's CPU time, matches).

    The CPU-time figure is what one worker does with a core of its own; on a shared machine the
    wall-clock one also counts the time other processes held the core.
    """
    engine.evaluate(txs[:batch])  # allocate the modules' batch areas outside the timing
    matches = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(txs), batch):
        found, errs = engine.evaluate(txs[i : i + batch])
        assert not errs, errs
        matches += len(found)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(txs) / wall, len(txs) / cpu, matches


def naive_per_call(rules_file: Path, txs: list[EnrichedTx], calls: int) -> float:
    """Seconds per wasm call when each (tx, rule) pair is one call from Python.

    Same compiled rules, but each rule's function is called on its own (the table exported for
    the purpose), which is what a one-module-per-rule, one-call-per-tx host does.
    """
    compiled = compile_rules(parse_rules([rules_file]))
    wat = re.sub(r"\(table (\d+) funcref\)", r'(table (export "rules") \1 funcref)', compiled.wat)
    engine = new_engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, wat), [])
    exports = instance.exports(store)
    table, memory, alloc = exports["rules"], exports["memory"], exports["alloc"]
    assert isinstance(table, wasmtime.Table) and isinstance(memory, wasmtime.Memory)
    assert isinstance(alloc, wasmtime.Func)
    store.set_fuel(10**12)
    ptr = alloc(store, RECORD_SIZE)
    funcs = [table.get(store, i) for i in range(table.size(store))]
    made = 0
    started = time.perf_counter()
    while True:
        for etx in txs:
            memory.write(store, encode_batch([etx]).data, ptr)
            for func in funcs:
                func(store, ptr)  # type: ignore[misc]
                made += 1
                if made >= calls:
                    return (time.perf_counter() - started) / made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--hand-written", type=int, default=50)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--naive-calls", type=int, default=20_000)
    args = parser.parse_args()
    rnd = random.Random(7)
    sample = [e for e in recorded_enriched([BUNDLED_SAMPLE], Config()) if isinstance(e, EnrichedTx)]
    txs = (sample * (args.txs // len(sample) + 1))[: args.txs]
    print(
        f"{len(txs)} txs (the bundled sample's {len(sample)} txs, normalized and enriched by the "
        f"flow's operators), batches of {args.batch}"
    )

    started = time.perf_counter()
    for _ in range(5):
        for i in range(0, len(txs), args.batch):
            encode_batch(txs[i : i + args.batch])
    encode_rate = 5 * len(txs) / (time.perf_counter() - started)
    print(f"ABI v1 encoding alone: {encode_rate:,.0f} tx/s")

    with tempfile.TemporaryDirectory() as tmp:
        hand = Path(tmp) / "hand"
        hand.mkdir()
        write_hand_written(hand, sample, args.hand_written, rnd)
        engine = RuleEngine.from_dir(hand, reload_interval_s=3600)
        wall, cpu, matches = throughput(engine, txs, args.batch)
        print(
            f"(a) {args.hand_written} hand-written WAT modules: {wall:,.0f} tx/s per worker "
            f"(CPU time: {cpu:,.0f} tx/s; {matches / len(txs):.2f} matches per tx)"
        )

        declarative = Path(tmp) / "declarative"
        declarative.mkdir()
        (declarative / "generated.yaml").write_text(
            yaml.safe_dump(generated_rules(sample, args.rules, rnd))
        )
        started = time.perf_counter()
        engine = RuleEngine.from_dir(declarative, reload_interval_s=3600)
        print(
            f"    compiling {engine.rule_count} declarative rules took "
            f"{time.perf_counter() - started:.1f} s"
        )
        wall, cpu, matches = throughput(engine, txs, args.batch)
        print(
            f"(b) {engine.rule_count} generated declarative rules: {wall:,.0f} tx/s per worker "
            f"(CPU time: {cpu:,.0f} tx/s; {matches / len(txs):.2f} matches per tx)"
        )

        per_call = naive_per_call(declarative / "generated.yaml", sample, args.naive_calls)
        naive_rate = 1 / (per_call * engine.rule_count)
        print(
            f"(c) naive, one call per rule per tx: {per_call * 1e6:.1f} us per call -> "
            f"{naive_rate:,.2f} tx/s per worker at {engine.rule_count} rules"
        )


if __name__ == "__main__":
    main()
