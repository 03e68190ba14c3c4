"""Every command README and docs/ show still runs, as printed.

Commands are the lines of every ```sh block (a heredoc, a `\\` continuation or a quoted string
over several lines is one command) and the `python ... bench` commands of docs/performance.md's
table. Each runs with bash in a scratch folder that links to the repository's top-level entries (so `.venv/bin/scorpius`, `tests/data/...`
and `rules/examples` resolve, and `mkdir my-rules` or `-o out-quiet` land in the scratch folder),
with SCORPIUS_OUTPUT_DIR pointing there and `.venv/bin` first on PATH (for bare `scorpius` and
`python`). A block's commands run in one script, so its `export` lines hold for the commands after
them.

The first `scorpius run` (README's) replays the whole bundled sample, so the `scorpius query`
examples run against its archive and must print rows: an example whose dates miss the sample
fails here. Later runs of the flow replay a slice of the sample (SCORPIUS_SOURCE_REPLAY_PATH) to
keep this test short; they run the same code.

SKIPPED lists what cannot run here, each with the reason (a server that is not on this machine, or
a command that only ends when stopped); a skip pattern that no longer matches any command fails,
so the list cannot rot. Benchmarks (docs/performance.md) take minutes and servers: they are run
with `--help` (or imported) only, to check that they still start.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# pattern (searched in a command) -> why it does not run in this test
SKIPPED = {
    r"^make (run|test)$": "the two commands themselves: CI runs `make test`, and `make run` is "
    "`scorpius run` after setup, run below as README shows it",
    r"^docker build": "needs Docker (not on this machine)",
    r"^kubectl ": "needs a Kubernetes cluster (tests/k8s renders and validates the manifests)",
    r"^yq ": "needs yq (not a project dependency)",
    r"scorpius kafka (create-topics|ingest)": "needs a Kafka broker (tests/connectors start one)",
    r"SCORPIUS_SOURCE_KIND=kafka": "needs a Kafka broker holding tx_raw",
    r"SCORPIUS_SOURCE_KIND=rpc": "a live source runs until stopped and needs nodes "
    "(tests/connectors/rpc and tests/flows/test_mev_anvil.py run it against Anvil)",
    r"bytewax.run flows.mempool:flow -w 4": "runs with the live node URLs exported above it",
    r"anvil --no-mining": "starts a node in the background for the live example",
    r"curl .*127\.0\.0\.1:8545": "talks to the Anvil node of the live example",
    r"SCORPIUS_ALERTS_SLACK_WEBHOOK_URL=": "posts to Slack (tests/connectors use a local fake)",
    r"SCORPIUS_ALERTS_MIN_SEVERITY=high": "part of the Slack example above",
    r"^make console$": "serves the console until stopped (tests/web start `scorpius serve --flow`)",
    r"npm run dev": "Vite's dev server runs until stopped",
    r"cd web && npm (ci|run lint)": "part of `make lint`, which CI runs before the tests; "
    "tests/web/conftest.py builds web/dist",
    r"pytest tests/web": "the browser tests are part of this suite already",
    r"bench\.bench_console": "a benchmark (a browser and a paced flow for 20 s); "
    "tests/web/test_live_load.py runs it briefly",
}
SKIPPED_RUNS_AFTER = {
    # in docs/alerts.md, `scorpius run` follows the Slack exports: it would post to Slack
    "docs/alerts.md": r"\.venv/bin/scorpius run$",
}
BENCH = re.compile(r"`(python (?:-m bench\.\w+|bench/\w+\.py)[^`]*)`")
SLICE_LINES = 600


@dataclass
class Command:
    page: str
    block: int
    text: str


def commands_of(page: Path) -> list[list[Command]]:
    """The commands of each ```sh block of ``page``, in order."""
    name = str(page.relative_to(ROOT))
    blocks = re.findall(r"^```sh\n(.*?)^```", page.read_text(), re.S | re.M)
    found: list[list[Command]] = []
    for index, body in enumerate(blocks):
        lines = body.splitlines()
        commands: list[Command] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            text = [line]
            heredoc = re.search(r"<<'?(\w+)'?", line)
            # a `\\` at the end, or a quote still open (a JSON body over several lines), goes on
            while (text[-1].endswith("\\") or "\n".join(text).count("'") % 2) and i < len(lines):
                text.append(lines[i])
                i += 1
            if heredoc:
                while i < len(lines):
                    text.append(lines[i])
                    i += 1
                    if lines[i - 1] == heredoc.group(1):
                        break
                # a heredoc's command may go on after its terminator (`... && next`): none here
            commands.append(Command(name, index, "\n".join(text)))
        found.append(commands)
    return found


def skip_reason(command: Command) -> str | None:
    for pattern, reason in SKIPPED.items():
        if re.search(pattern, command.text, re.M):
            return reason
    after = SKIPPED_RUNS_AFTER.get(command.page)
    if after and re.search(after, command.text):
        return "part of the Slack example"
    return None


def bench_commands() -> list[str]:
    return sorted(set(BENCH.findall((ROOT / "docs" / "performance.md").read_text())))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("docs-commands")
    for entry in ROOT.iterdir():
        if entry.name not in ("out", ".git"):
            (here / entry.name).symlink_to(entry)
    return here


def environment(scratch: Path, replay: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["SCORPIUS_OUTPUT_DIR"] = str(scratch / "out")
    env["SCORPIUS_RULES_CACHE_DIR"] = ""
    if replay is not None:
        env["SCORPIUS_SOURCE_REPLAY_PATH"] = str(replay)
    return env


def sample_slice(folder: Path) -> Path:
    source = ROOT / "connectors" / "sample" / "mainnet.jsonl.gz"
    target = folder / "sample-slice.jsonl"
    with gzip.open(source, "rt") as f:
        target.write_text("".join(line for _, line in zip(range(SLICE_LINES), f, strict=False)))
    return target


@pytest.mark.slow
def test_every_command_of_readme_and_docs_runs(scratch: Path) -> None:
    ran: list[str] = []
    skipped: dict[str, str] = {}
    used_patterns: set[str] = set()
    full_run_done = False
    replay_slice = sample_slice(scratch)
    for page in PAGES:
        for commands in commands_of(page):
            script: list[str] = []
            for command in commands:
                reason = skip_reason(command)
                if reason is not None:
                    skipped[command.text] = reason
                    used_patterns.update(p for p in SKIPPED if re.search(p, command.text, re.M))
                    continue
                script.append(command.text)
            if not script:
                continue
            runs_flow = any(re.search(r"scorpius run(?! --help)|bytewax\.run", c) for c in script)
            replay = replay_slice if runs_flow and full_run_done else None
            full_run_done = full_run_done or runs_flow
            shown = "\n".join(script)
            result = run_in(scratch, ["bash", "-euo", "pipefail", "-c", shown], replay, 600)
            assert result.returncode == 0, f"{page.name}: {shown}\n{result.stderr[-3000:]}"
            assert "Traceback" not in result.stderr, f"{page.name}: {shown}\n{result.stderr}"
            if re.search(r"scorpius query (?!.*--explain)", shown):
                assert result.stdout.strip(), (
                    f"{page.name}: the example query found nothing: {shown}"
                )
            ran.extend(script)
    assert full_run_done, "no page runs the flow any more"
    assert any("scorpius query" in c for c in ran), "no page shows a query any more"
    unused = set(SKIPPED) - used_patterns
    assert not unused, f"skip patterns that match no command any more: {unused}"
    print(f"ran {len(ran)} commands; skipped {len(skipped)}:")
    for text, reason in skipped.items():
        print(f"  {text.splitlines()[0]}  ({reason})")


def run_in(
    scratch: Path, args: list[str], replay: Path | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Runs a documented command in the scratch checkout, as a reader's shell would."""
    return subprocess.run(
        args,
        cwd=scratch,
        env=environment(scratch, replay),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_every_benchmark_of_the_performance_page_starts(scratch: Path) -> None:
    commands = bench_commands()
    assert len(commands) >= 8, commands
    for command in commands:
        module = re.sub(r"\.py$", "", command.split()[2 if " -m " in command else 1]).replace(
            "/", "."
        )
        source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
        # Scripts with options answer --help; the others (a count argument) are imported.
        probe = (
            ["python", "-m", module, "--help"]
            if "argparse" in source
            else ["python", "-c", f"import {module}"]
        )
        result = run_in(scratch, probe, None, 120)
        assert result.returncode == 0, f"{command}: {result.stderr[-2000:]}"
