"""Issue 18's figures in one run, each next to the same figure of a baseline commit.

    python -m bench.bench_speed [--baseline 1ae1914] [--quick] [--skip-kafka]

The baseline is checked out into a temporary git worktree and measured with this same
interpreter (its folder first on the path), alternating with this tree, by the existing benches:

- ``scorpius run`` on the bundled sample (wall, items/s for the whole process) and the archive's
  files after one run and after a rerun into the same folder (``bench_whole_run``);
- start-up: wall time of ``import flows.mempool`` and ``scorpius --help`` (median);
- block MEV from the fixture dicts to findings, and detection alone, in traces/s, over the
  baseline's reference blocks. mev-inspect-py is **not** run here (it needs its own venv from a
  source archive this machine has no copy of): its side is the *recorded* figure of the issue,
  Scorpius at the baseline was 9.3x mev-inspect-py from dict to findings and 15.8x in detection
  alone, on the same interpreter. This tree's ratio is that recorded ratio times this tree's
  traces/s over the baseline's, both measured here;
- first-seen -> alert in the ``alerts`` topic at 1,000 tx/s offered and the Kafka ``tx_raw`` ->
  topics throughput of the whole flow, 1 process x 1 worker (``bench_e2e``, its own broker per
  tree; its warm-up is 200 txs, not 5 s);
- the whole flow on 1 worker replaying a large recording (laps of the sample's pending txs with
  fresh hashes and senders, 1 ms apart in event time) with every default sink on: txs / wall of the whole process;
- per-stage time, this tree only: the stage benches (normalize + enrich, MEV detection, rules,
  archive writes), each alone on one worker.

Each line prints figure, target, baseline, this tree and whether the target is met by this
tree's figure. Load average is printed at the start and the end: on a shared machine the wall
times are lower bounds of the speed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.bench_whole_run import archive_files

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "connectors" / "sample" / "mainnet.jsonl.gz"
MEV_RECORDED = {"dict_to_findings": 9.3, "detection": 15.8}  # x mev-inspect-py, at 1ae1914

# Run inside each tree: block MEV from dicts to findings, and detection alone, in traces/s.
MEV_SNIPPET = """
import gzip, sys, time, orjson
from operators.mev import detect_block
from operators.mev.fixtures import block_from_fixture
rounds = int(sys.argv[1])
dicts = [orjson.loads(gzip.open(p, "rb").read()) for p in sys.argv[2:]]
traces = sum(len(d["traces"]) for d in dicts)
started = time.perf_counter()
for _ in range(rounds):
    for d in dicts:
        detect_block(block_from_fixture(d))
full = time.perf_counter() - started
blocks = [block_from_fixture(d) for d in dicts]
started = time.perf_counter()
for _ in range(rounds):
    for b in blocks:
        detect_block(b)
alone = time.perf_counter() - started
print(orjson.dumps({"dict_to_findings": rounds * traces / full,
                    "detection": rounds * traces / alone}).decode())
"""


@dataclass(frozen=True)
class Line:
    figure: str
    target: str
    baseline: str
    this: str
    met: str


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def python(
    tree: Path, args: list[str], env: Mapping[str, str] | None = None, timeout: float = 1800
) -> tuple[float, str]:
    """Wall seconds and stdout of ``python args`` run in ``tree`` with ``env`` (SCORPIUS_* of
    this process left out)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    full.update(env or {})
    full["PYTHONPATH"] = str(tree)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=tree, env=full, capture_output=True, text=True, timeout=timeout
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: python {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, done.stdout


def large_recording(path: Path, laps: int) -> int:
    """``laps`` copies of the sample's pending txs, each lap with its own hashes and senders, one
    ms apart in event time (1,000 tx/s) and ending an hour ago: a long recording of new txs.
    Returns the tx count."""
    with gzip.open(SAMPLE, "rb") as sample:
        txs = [item for line in sample if (item := orjson.loads(line)).get("kind") == "tx"]
    count = laps * len(txs)
    first_ms = int(time.time() * 1000) - 3_600_000 - count
    with path.open("wb") as out:
        for lap in range(laps):
            tag = f"{lap:08x}"
            for i, tx in enumerate(txs):
                payload = dict(tx["payload"])
                payload["hash"] = payload["hash"][:-8] + tag
                payload["from"] = payload["from"][:-8] + tag
                seen_ms = first_ms + lap * len(txs) + i
                out.write(orjson.dumps({**tx, "seen_ms": seen_ms, "payload": payload}) + b"\n")
    return count


class Tree:
    """One checkout's figures."""

    def __init__(self, name: str, path: Path, scratch: Path) -> None:
        self.name, self.path, self.scratch = name, path, scratch
        scratch.mkdir(parents=True, exist_ok=True)
        self.figures: dict[str, float] = {}

    def whole_run(self) -> None:
        out = self.scratch / "out"
        shutil.rmtree(out, ignore_errors=True)
        wall, _ = python(self.path, ["-m", "flows.cli", "run", "--quiet", "-o", str(out)])
        items = orjson.loads((out / "summary.json").read_bytes())["read"]
        self.figures["run_s"] = wall
        self.figures["run_items_s"] = items / wall
        self.figures["files"] = archive_files(out)
        wall, _ = python(self.path, ["-m", "flows.cli", "run", "--quiet", "-o", str(out)])
        self.figures["rerun_s"] = wall
        self.figures["files_rerun"] = archive_files(out)

    def start_up(self, repeats: int) -> None:
        imports = [python(self.path, ["-c", "import flows.mempool"])[0] for _ in range(repeats)]
        helps = [python(self.path, ["-m", "flows.cli", "--help"])[0] for _ in range(repeats)]
        self.figures["import_s"] = statistics.median(imports)
        self.figures["help_s"] = statistics.median(helps)

    def mev(self, blocks: list[Path], rounds: int) -> None:
        args = ["-c", MEV_SNIPPET, str(rounds), *map(str, blocks)]
        rates = orjson.loads(python(self.path, args)[1])
        self.figures["mev_dict_to_findings"] = rates["dict_to_findings"]
        self.figures["mev_detection"] = rates["detection"]

    def e2e(self, seconds: float, drain: float, messages: int) -> None:
        args = ["-m", "bench.bench_e2e", "--rates", "1000", "--seconds", f"{seconds:g}"]
        args += ["--drain", f"{drain:g}", "--scaling-messages", str(messages), "--verify"]
        _, out = python(self.path, args)
        (self.scratch / "bench_e2e.txt").write_text(out)
        row = next(line for line in out.splitlines() if line.startswith("| 1,000 |"))
        cells = [c.strip().replace(",", "") for c in row.strip("|").split("|")]
        self.figures["e2e_done"] = float(cells[2])
        self.figures["e2e_left"] = float(cells[4])
        self.figures["e2e_p50"] = float(cells[7]) if cells[7] != "nan" else float("nan")
        self.figures["e2e_p99"] = float(cells[8]) if cells[8] != "nan" else float("nan")
        missing = re.search(r"--verify, 1,000 tx/s: (\d+) sent txs missing", out)
        if missing is not None:  # the baseline's bench_e2e does not print it
            self.figures["e2e_missing"] = float(missing.group(1))
        if messages:
            steady = re.search(r"1 process x 1 worker\s+steady\s+([\d,]+) tx/s", out)
            if steady is None:
                raise RuntimeError(f"{self.name}: no 1 x 1 steady figure in:\n{out}")
            self.figures["kafka_tx_s"] = float(steady.group(1).replace(",", ""))

    def large(self, recording: Path, txs: int) -> None:
        out = self.scratch / "out-large"
        shutil.rmtree(out, ignore_errors=True)
        env = {"SCORPIUS_SOURCE_REPLAY_PATH": str(recording)}
        wall, _ = python(self.path, ["-m", "flows.cli", "run", "--quiet", "-o", str(out)], env)
        self.figures["large_tx_s"] = txs / wall
        self.figures["large_s"] = wall


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "not measured"
    if value != value:  # NaN: nothing to take a percentile of
        return "no alerts"
    return format(value, spec)


def lines(base: Tree, this: Tree) -> list[Line]:
    b, t = base.figures, this.figures
    result: list[Line] = []

    def add(
        figure: str, target: str, key: str, spec: str, ok: Callable[[float], bool] | None
    ) -> None:
        mine = t.get(key)
        met = (
            "-"
            if ok is None or mine is None or mine != mine
            else ("MET" if ok(mine) else "NOT met")
        )
        result.append(Line(figure, target, _fmt(b.get(key), spec), _fmt(mine, spec), met))

    add(
        "scorpius run, bundled sample, wall s",
        "< baseline",
        "run_s",
        ".1f",
        lambda v: "run_s" in b and v < b["run_s"],
    )
    add("  items/s, whole process", "-", "run_items_s", ",.0f", None)
    add(
        "archive files after one run",
        "< baseline",
        "files",
        ".0f",
        lambda v: "files" in b and v < b["files"],
    )
    add(
        "archive files after a rerun, same folder",
        "= after one run",
        "files_rerun",
        ".0f",
        lambda v: v == t.get("files"),
    )
    add("import flows.mempool, wall s (median)", "<= 0.3", "import_s", ".2f", lambda v: v <= 0.3)
    add("scorpius --help, wall s (median)", "<= 0.3", "help_s", ".2f", lambda v: v <= 0.3)
    for key, label in (("dict_to_findings", "dict -> findings"), ("detection", "detection alone")):
        add(f"block MEV {label}, traces/s", "-", f"mev_{key}", ",.0f", None)
        if f"mev_{key}" in b and f"mev_{key}" in t:
            b[f"x_{key}"] = MEV_RECORDED[key]
            t[f"x_{key}"] = MEV_RECORDED[key] * t[f"mev_{key}"] / b[f"mev_{key}"]
        target = ">= 30" if key == "dict_to_findings" else "-"
        ok = (lambda v: v >= 30) if key == "dict_to_findings" else None
        add(
            f"  x mev-inspect-py (recorded {MEV_RECORDED[key]}x at 1ae1914, scaled)",
            target,
            f"x_{key}",
            ".1f",
            ok,
        )
    add("first-seen -> alert p50 ms at 1,000 tx/s (Kafka)", "-", "e2e_p50", ",.0f", None)
    add(
        "first-seen -> alert p99 ms at 1,000 tx/s (Kafka)",
        "<= 50",
        "e2e_p99",
        ",.0f",
        lambda v: v <= 50,
    )
    add("  done tx/s in that step (offered 1,000)", "-", "e2e_done", ",.0f", None)
    add("  left after the drain", "0", "e2e_left", ",.0f", lambda v: v == 0)
    add(
        "  sent txs missing from tx_enriched (--verify)",
        "0",
        "e2e_missing",
        ",.0f",
        lambda v: v == 0,
    )
    add(
        "Kafka tx_raw -> topics, whole flow, 1x1, tx/s",
        ">= 15,000",
        "kafka_tx_s",
        ",.0f",
        lambda v: v >= 15_000,
    )
    add(
        "large recording, default sinks, 1 worker, tx/s",
        ">= 20,000",
        "large_tx_s",
        ",.0f",
        lambda v: v >= 20_000,
    )
    return result


def table(rows: list[Line]) -> str:
    head = "| figure | target | baseline | this tree | met |"
    out = [head, "|---|---|---|---|---|"]
    out += [f"| {r.figure} | {r.target} | {r.baseline} | {r.this} | {r.met} |" for r in rows]
    return "\n".join(out)


STAGES_QUICK = [
    ["-m", "bench.bench_normalize_enrich", "--seconds", "1", "--flow-repeat", "2"],
    ["-m", "bench.bench_mev", "--rounds", "1"],
    ["-m", "bench.bench_rules", "--txs", "5000", "--naive-calls", "500"],
    ["-m", "bench.bench_storage", "--rows", "20000", "--skip-clickhouse"],
]


def stages(tree: Path) -> None:
    """This tree's stages, each alone on one worker, so the slowest is visible."""
    print("\nPer stage, this tree, each stage alone on one worker:")
    for args in STAGES_QUICK:
        print(f"$ python {' '.join(args)}   (load {load()})", flush=True)
        try:
            _, out = python(tree, args)
        except RuntimeError as error:
            out = f"failed: {error}"
        print("\n".join("    " + line for line in out.strip().splitlines()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="1ae1914", help="git ref of the baseline method")
    parser.add_argument("--quick", action="store_true", help="shorter steps: about 10 minutes")
    parser.add_argument("--skip-kafka", action="store_true", help="no broker: no p99, no Kafka")
    parser.add_argument("--laps", type=int, help="laps of the sample in the large recording")
    args = parser.parse_args()
    quick = args.quick
    laps = args.laps or (10 if quick else 50)
    started = time.monotonic()
    print(
        f"cores: {os.cpu_count()}  python: {sys.version.split()[0]}  baseline: {args.baseline}  "
        f"{'quick' if quick else 'full'}  load average (1/5/15 min) {load()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as folder:
        scratch = Path(folder)
        base_path = scratch / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base_path), args.baseline],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            trees = [Tree("baseline", base_path, scratch / "b"), Tree("this", REPO, scratch / "t")]
            blocks = sorted((base_path / "tests" / "data" / "mev" / "blocks").glob("*.json.gz"))
            recording = scratch / "large.jsonl"
            txs = large_recording(recording, laps)
            steps: list[tuple[str, Callable[[Tree], None]]] = [
                ("scorpius run x2 (sample, rerun)", Tree.whole_run),
                ("start-up", lambda tr: tr.start_up(3 if quick else 5)),
                (f"block MEV ({len(blocks)} blocks)", lambda tr: tr.mev(blocks, 2 if quick else 5)),
                (f"large recording ({txs:,} txs)", lambda tr: tr.large(recording, txs)),
            ]
            if not args.skip_kafka:
                steps.append(
                    (
                        "bench_e2e at 1,000 tx/s + scaling",
                        lambda tr: tr.e2e(
                            10 if quick else 20, 5 if quick else 10, 10_000 if quick else 30_000
                        ),
                    )
                )
            for label, step in steps:
                for tree in trees:  # alternating: baseline, then this tree
                    print(f"  {label}: {tree.name} (load {load()})", flush=True)
                    step(tree)
            print()
            print(table(lines(*trees)))
            stages(REPO)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_path)],
                cwd=REPO,
                capture_output=True,
            )
    print(f"\ndone in {time.monotonic() - started:.0f} s, load average at the end {load()}")


if __name__ == "__main__":
    main()
