"""``scorpius rules``: try a rule set on recorded transactions before it goes live.

    scorpius rules test [DIR] --txs enriched.jsonl[.gz]     matches, one per line, and timing
    scorpius rules backtest [DIR] --txs a.jsonl b.jsonl.gz   per-rule counts over many files
    scorpius rules compile [DIR] -o rules.wat                the WAT the YAML rules compile to
    scorpius rules build my_rule.ts -o my_rule.wasm          an AssemblyScript rule (rules/sdk)

Transactions are EnrichedTx records as JSON lines (``--txs``: what the ``tx_enriched`` output
carries), recordings in the replay format (``--recorded``: raw RPC items, normalized and
enriched here as the flow does) or the archive (``--archive URL``: the exact archived
``Tx`` records, enriched again, in event-time order). With none, the bundled sample is used.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import msgspec

from connectors.replay import read_items
from flows.commands import CommandError
from flows.config import Config, RulesConfig, load_config
from flows.wiring.rules import engine_for
from operators.records import Block, DeadLetter, EnrichedTx, RuleMatch, encode_json
from operators.rules import RuleEngine
from operators.rules.compiler import compile_rules, parse_rules

_decoder = msgspec.json.Decoder(EnrichedTx)


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if path.suffix == ".gz" else path.open("rb")


def read_enriched(paths: list[Path]) -> Iterator[EnrichedTx | DeadLetter]:
    """EnrichedTx records of JSON-lines files; an unreadable line is a dead letter, not a stop."""
    for path in paths:
        with _open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield _decoder.decode(line)
                except msgspec.DecodeError as exc:
                    yield DeadLetter(
                        stage="rules-cli",
                        reason=f"not an EnrichedTx: {path}:{number}: {exc}",
                        payload=line.decode("utf-8", "replace")[:2000],
                    )


def recorded_enriched(paths: list[Path], cfg: Config) -> Iterator[EnrichedTx | DeadLetter]:
    """Recorded raw items (the replay format) through the flow's own normalize and enrich
    functions, with ``cfg``'s size limits and enrich folders; a block gives its transactions."""
    from flows.steps.normalize import normalizer  # bytewax: only when recordings are read
    from flows.wiring.operators import enricher_for

    normalize = normalizer(cfg.limits)
    enrich = enricher_for(cfg.enrich).enrich
    for path in paths:
        for item in read_items(path):
            for record in normalize(item):
                if isinstance(record, DeadLetter):
                    yield record
                elif isinstance(record, Block):
                    yield from (enrich(tx) for tx in record.txs)
                else:
                    yield enrich(record)


def archived_enriched(url: str, cfg: Config, chains: tuple[int, ...] = ()) -> Iterator[EnrichedTx]:
    """The archive's transactions (a folder, file:// or s3:// URL), oldest first, enriched with
    ``cfg``'s enrich folders."""
    from connectors.archive_query import Filters, iter_rows  # pyarrow.dataset: only when used
    from connectors.archive_tables import tx_from_row
    from flows.wiring.operators import enricher_for

    enrich = enricher_for(cfg.enrich).enrich
    for _, rows in iter_rows(url, "transactions", Filters(chains=chains)):
        for row in rows:
            yield enrich(tx_from_row(row))


def _inputs(args: argparse.Namespace) -> Iterator[EnrichedTx | DeadLetter]:
    if args.txs:
        yield from read_enriched(args.txs)
    if args.archive:
        yield from archived_enriched(args.archive, load_config(), tuple(args.chain or ()))
    if args.recorded or not (args.txs or args.archive):
        cfg = load_config()
        yield from recorded_enriched(args.recorded or [Path(cfg.source.replay_path)], cfg)


def _run(
    engine: RuleEngine, items: Iterator[EnrichedTx | DeadLetter], batch_size: int
) -> Iterator[tuple[list[RuleMatch], list[DeadLetter], int, float]]:
    """(matches, dead letters, txs, seconds in the engine) per batch."""
    batch: list[EnrichedTx] = []
    bad: list[DeadLetter] = []

    def flush() -> tuple[list[RuleMatch], list[DeadLetter], int, float]:
        started = time.perf_counter()
        matches, errs = engine.evaluate(batch)
        result = (matches, bad + errs, len(batch), time.perf_counter() - started)
        batch.clear()
        bad.clear()
        return result

    for item in items:
        if isinstance(item, DeadLetter):
            bad.append(item)
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            yield flush()
    yield flush()


def _rules_dir(args: argparse.Namespace) -> str:
    return str(args.dir or load_config().rules.dir)


def loaded_engine(config: RulesConfig, directory: str | None) -> tuple[RuleEngine, int]:
    """The engine over the rules directory and how many files it refused, each reported once on
    stderr. A directory with no rule at all is the user's mistake: CommandError."""
    where = Path(directory or config.dir)
    if not where.is_dir():
        raise CommandError(f"no rules directory {where}: pass DIR or set SCORPIUS_RULES_DIR")
    # The engine logs each load error as a warning too; here they are reported once, below.
    logging.getLogger("operators.rules.engine").setLevel(logging.ERROR)
    engine = engine_for(config, directory)
    _, refused = engine.evaluate([])
    for err in refused:
        print(f"scorpius rules: {err.reason}", file=sys.stderr)
    if not engine.rule_count:
        problem = f"{len(refused)} file(s) refused (above)" if refused else "no rule files"
        raise CommandError(f"no rules loaded from {where}: {problem}; fix them and run again")
    return engine, len(refused)


def cmd_test(args: argparse.Namespace) -> int:
    config = load_config().rules
    engine, refused = loaded_engine(config, args.dir)
    print(f"{engine.rule_count} rules in {len(engine.modules)} modules from {engine.directory}")
    shown = txs = 0
    seconds = 0.0
    per_rule: Counter[str] = Counter()
    errors = 0
    for matches, errs, n, spent in _run(engine, _inputs(args), config.batch_size):
        txs += n
        seconds += spent
        for err in errs:
            errors += 1
            print(f"DEAD LETTER {err.reason}", file=sys.stderr)
        for m in matches:
            per_rule[m.rule_id] += 1
            if shown < args.show:
                shown += 1
                print(f"{m.severity:8} {m.rule_id:40} chain {m.chain_id} {m.tx_hash}  {m.message}")
    _summary(per_rule, txs, seconds)
    if refused:
        print(
            f"scorpius rules test: {refused} rule file(s) refused (above): fix them; "
            "the others ran",
            file=sys.stderr,
        )
        return 1
    return 1 if errors and args.strict else 0


def cmd_backtest(args: argparse.Namespace) -> int:
    config = load_config().rules
    engine, refused = loaded_engine(config, args.dir)
    print(f"{engine.rule_count} rules in {len(engine.modules)} modules from {engine.directory}")
    per_rule: Counter[str] = Counter()
    txs = errors = 0
    seconds = 0.0
    out = args.out.open("wb") if args.out else None
    try:
        for matches, errs, n, spent in _run(engine, _inputs(args), config.batch_size):
            txs += n
            seconds += spent
            errors += len(errs)
            for err in errs:
                print(f"DEAD LETTER {err.reason}", file=sys.stderr)
            per_rule.update(m.rule_id for m in matches)
            if out is not None:
                out.writelines(encode_json(m) + b"\n" for m in matches)
    finally:
        if out is not None:
            out.close()
    _summary(per_rule, txs, seconds)
    print(f"dead letters: {errors}")
    return 1 if refused else 0


def _summary(per_rule: Counter[str], txs: int, seconds: float) -> None:
    total = sum(per_rule.values())
    for rule_id, count in per_rule.most_common():
        print(f"{count:8} {rule_id}")
    rate = txs / seconds if seconds else 0.0
    print(f"{txs} txs, {total} matches, {seconds:.3f} s in the engine ({rate:,.0f} tx/s)")


def cmd_compile(args: argparse.Namespace) -> int:
    directory = Path(_rules_dir(args))
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml"))
    compiled = compile_rules(parse_rules(files))
    args.out.write_text(compiled.wat)
    print(f"{len(compiled.rules)} rules from {len(files)} files -> {args.out}")
    return 0


ASC_CACHE = Path.home() / ".cache" / "scorpius" / "assemblyscript" / "node_modules" / ".bin" / "asc"
# The stub runtime (a bump allocator, no GC) and no abort import: nothing for the host to refuse.
ASC_FLAGS = ["-O3", "--runtime", "stub", "--use", "abort=", "--noAssert"]


def find_asc(explicit: str | None = None) -> str:
    """The asc compiler: --asc, then PATH, then where install_assemblyscript.sh puts it."""
    for candidate in (explicit, shutil.which("asc"), str(ASC_CACHE)):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError(
        "asc (AssemblyScript) not found: run tests/services/install_assemblyscript.sh or pass --asc"
    )


def build_assemblyscript(source: Path, out: Path, asc: str | None = None) -> None:
    """Compiles an AssemblyScript rule to a .wasm the host loads (raises on a compile error)."""
    cmd = [find_asc(asc), str(source), "--outFile", str(out), *ASC_FLAGS]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"asc failed on {source}:\n{result.stdout}{result.stderr}")


def cmd_build(args: argparse.Namespace) -> int:
    try:
        build_assemblyscript(args.source, args.out, args.asc)
    except (FileNotFoundError, RuntimeError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.source} -> {args.out}")
    return 0


def _add_rules_and_txs(parser: argparse.ArgumentParser) -> None:
    """The rule set and the transactions to run it over, as ``test`` and ``backtest`` take them."""
    parser.add_argument("dir", nargs="?", help="rules directory (default: SCORPIUS_RULES_DIR)")
    parser.add_argument("--txs", type=Path, nargs="+", help="EnrichedTx JSON lines (.gz too)")
    parser.add_argument("--recorded", type=Path, nargs="+", help="replay-format recordings")
    parser.add_argument("--archive", help="archive URL (folder, file://, s3://)")
    parser.add_argument("--chain", type=int, action="append", help="archive: only this chain")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rules", help="test, backtest and compile rule sets")
    commands = parser.add_subparsers(dest="rules_command", required=True)

    test = commands.add_parser("test", help="run a rule set over transactions, print matches")
    _add_rules_and_txs(test)
    test.add_argument("--show", type=int, default=50, help="print at most this many matches")
    test.add_argument("--strict", action="store_true", help="exit 1 on any dead letter")
    test.set_defaults(func=cmd_test)

    backtest = commands.add_parser("backtest", help="per-rule match counts over recorded txs")
    _add_rules_and_txs(backtest)
    backtest.add_argument("--out", type=Path, help="write every RuleMatch here as JSON lines")
    backtest.set_defaults(func=cmd_backtest)

    compile_ = commands.add_parser("compile", help="write the WAT module YAML rules compile to")
    compile_.add_argument("dir", nargs="?", help="rules directory (default: SCORPIUS_RULES_DIR)")
    compile_.add_argument("-o", "--out", type=Path, required=True)
    compile_.set_defaults(func=cmd_compile)

    build = commands.add_parser("build", help="compile an AssemblyScript rule to .wasm")
    build.add_argument("source", type=Path)
    build.add_argument("-o", "--out", type=Path, required=True)
    build.add_argument("--asc", help="path of the asc compiler")
    build.set_defaults(func=cmd_build)
