"""The whole process next to a baseline commit: `scorpius run` on the bundled sample, its archive,
a rerun, and start-up (`import flows.mempool`, `scorpius --help`).

    python -m bench.bench_whole_run [--baseline 1ae1914] [--runs 3]

The baseline is checked out into a temporary git worktree and run by this same interpreter, with
its folder first on the path; runs alternate between the two trees and the medians are printed.
Per tree: items/s for the whole process (summary "read" / wall time), files in the archive after
one run and after a rerun into the same output folder (issue 16: the rerun must add nothing), and
the start-up times (wall and CPU, median of ``--runs * 3``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Figures:
    run_s: list[float] = field(default_factory=list)
    items: int = 0
    files: int = 0
    files_after_rerun: int = 0
    rerun_s: list[float] = field(default_factory=list)
    import_s: list[tuple[float, float]] = field(default_factory=list)
    help_s: list[tuple[float, float]] = field(default_factory=list)


def timed(tree: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the child) of ``python args`` run in ``tree``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    env["PYTHONPATH"] = str(tree)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, check=True, capture_output=True, timeout=1800
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def archive_files(out: Path) -> int:
    return sum(1 for _ in (out / "archive").rglob("*.parquet"))


def measure(tree: Path, figures: Figures, scratch: Path) -> None:
    out = scratch / f"out-{len(figures.run_s)}"
    wall, _ = timed(tree, ["-m", "flows.cli", "run", "--quiet", "-o", str(out)])
    figures.run_s.append(wall)
    figures.items = json.loads((out / "summary.json").read_text())["read"]
    figures.files = archive_files(out)
    wall, _ = timed(tree, ["-m", "flows.cli", "run", "--quiet", "-o", str(out)])
    figures.rerun_s.append(wall)
    figures.files_after_rerun = archive_files(out)
    for _ in range(3):
        figures.import_s.append(timed(tree, ["-c", "import flows.mempool"]))
        figures.help_s.append(timed(tree, ["-m", "flows.cli", "--help"]))


def median_pair(pairs: list[tuple[float, float]]) -> str:
    wall = statistics.median(p[0] for p in pairs)
    cpu = statistics.median(p[1] for p in pairs)
    return f"{wall:6.2f} s wall {cpu:6.2f} s cpu"


def report(name: str, f: Figures) -> None:
    run = statistics.median(f.run_s)
    print(f"[{name}]")
    print(
        f"  scorpius run (bundled sample) {run:7.2f} s   {f.items / run:9,.0f} items/s whole process"
    )
    print(f"  archive files after one run   {f.files:7d}")
    print(
        f"  ... after a rerun, same out   {f.files_after_rerun:7d}   (rerun {statistics.median(f.rerun_s):.2f} s)"
    )
    print(f"  import flows.mempool          {median_pair(f.import_s)}")
    print(f"  scorpius --help               {median_pair(f.help_s)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="1ae1914", help="git ref of the baseline method")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  python: {sys.version.split()[0]}  baseline: {args.baseline}")
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        base = scratch / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.baseline],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            trees = {"baseline": base, "this tree": REPO}
            figures = {name: Figures() for name in trees}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    measure(tree, figures[name], scratch / name.replace(" ", "-"))
            for name in trees:
                report(name, figures[name])
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)], cwd=REPO, capture_output=True
            )


if __name__ == "__main__":
    main()
