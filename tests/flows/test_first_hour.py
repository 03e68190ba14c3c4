"""A new user's first hour (issue 16): honest exit codes, one-line errors, a readable console and a
summary that explains itself. Commands run in this process through ``flows.cli.main`` (what the
``scorpius`` script calls), and end to end in a subprocess where the terminal output is the point.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import build_parser, main
from flows.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "connectors" / "sample" / "mainnet.jsonl.gz"
HASH = r"0x[0-9a-f]{64}"
LINE = re.compile(rf"^(CRITICAL|HIGH|MEDIUM|LOW|INFO) +\S+ +\S+: .*  tx {HASH}( {HASH})*$")
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def sample_slice(folder: Path, lines: int) -> Path:
    target = folder / "slice.jsonl"
    with gzip.open(SAMPLE, "rt") as f:
        target.write_text("".join(line for _, line in zip(range(lines), f, strict=False)))
    return target


def scorpius(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
        check=False,
    )


def stderr_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# 1. silent empty results


def test_query_on_a_missing_archive_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--url", "/nonexistent/archive", "--limit", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert stderr_lines(err) == [
        "scorpius query: no archive at /nonexistent/archive: run `scorpius run` to fill it, "
        "or pass --url with an archive"
    ]


def test_a_query_matching_nothing_says_so_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "archive").mkdir()
    args = ["query", "--url", str(tmp_path / "archive"), "--since", "2030-01-01"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "no transactions in" in err and "match these filters" in err


def test_run_on_an_empty_archive_exits_1_with_a_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "archive").mkdir()
    args = ["run", "--archive", str(tmp_path / "archive"), "--no-console", "-o", str(tmp_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "gave nothing to read" in err and "fill it with `scorpius run`" in err


def rules_with_a_broken_file(tmp_path: Path) -> Path:
    """A rules folder holding bad.yaml, whose one rule names a field that does not exist."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("rules:\n  - id: x\n    when:\n      - nosuchfield == 3\n")
    return rules


def test_rules_test_on_a_broken_rule_set_fails_and_says_why_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = rules_with_a_broken_file(tmp_path)
    recorded = sample_slice(tmp_path, 50)
    assert main(["rules", "test", str(rules), "--recorded", str(recorded)]) == 2
    out, err = capsys.readouterr()
    assert err.count("unknown field 'nosuchfield'") == 1
    assert "no rules loaded from" in err
    assert "0 matches" not in out


def test_rules_test_with_one_broken_file_runs_the_others_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = rules_with_a_broken_file(tmp_path)
    (rules / "good.yaml").write_text(
        "rules:\n  - id: any-value\n    severity: low\n    message: m\n    when:\n"
        "      - value >= 0\n"
    )
    recorded = sample_slice(tmp_path, 50)
    assert main(["rules", "test", str(rules), "--recorded", str(recorded)]) == 1
    out, err = capsys.readouterr()
    assert re.search(r"^\s+\d+ any-value$", out, re.M)
    assert "1 rule file(s) refused" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "--archive", "/nonexistent"], "no archive at /nonexistent"),
        (["run", "--dumpster", "/nonexistent.parquet"], "no mempool-dumpster file"),
        (["run", "--replay", "/nonexistent.jsonl"], "no recording at /nonexistent.jsonl"),
        (["archive", "retention", "--url", "/nonexistent"], "no archive at /nonexistent"),
        (["rules", "test", "/nonexistent"], "no rules directory /nonexistent"),
        (["rules", "test", "rules/examples", "--txs", "/nonexistent"], "/nonexistent: No such"),
        (["config", "--update", "/nonexistent.md"], "/nonexistent.md: No such file"),
        (["k8s", "plan", "--partitions", "3", "--workers-per-process", "2"], "fit: [1, 3]"),
        (["clickhouse", "apply-schema", "--url", "clickhouse://u:pw@127.0.0.1:1/d"], "running?"),
    ],
)
def test_a_missing_input_is_one_line_and_exit_2(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, *(["-o", str(tmp_path)] if args[0] == "run" else [])]) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1 and said in lines[0], lines
    assert "pw@" not in lines[0]  # a URL's password is never printed


# 2. config errors: one or two lines, no traceback unless --debug


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("SCORPIUS_DETECT_WATERMARK_WAIT_S", "abc", ["config"]),
        ("SCORPIUS_SOURCE_KIND", "foo", ["run", "--no-console"]),
    ],
)
def test_a_bad_setting_is_two_lines_not_a_traceback(
    variable: str,
    value: str,
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("SCORPIUS_OUTPUT_DIR", str(tmp_path))
    assert main(command) == 2
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 2 and variable in lines[0] and repr(value) in lines[0], lines
    with pytest.raises(ConfigError):
        main(["--debug", *command])


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SCORPIUS_DETECT_WATERMARK_WAIT_S": "abc"}
    result = scorpius("config", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(stderr_lines(result.stderr)) == 2
    debug = scorpius("config", "--debug", env=env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


# 4 and 5. the console and the summary, end to end


@pytest.mark.slow
def test_two_workers_print_one_whole_line_per_alert_and_an_explained_summary(
    tmp_path: Path,
) -> None:
    result = scorpius("run", "-w", "2", "--color", "never", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    alerts = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == len(alerts) > 100
    bad = [line for line in lines if not LINE.match(line)]
    assert not bad, bad[:3]
    # full hashes: every alert's hashes appear whole
    for alert in map(json.loads, alerts):
        assert " ".join(alert["tx_hashes"]) in result.stdout
    assert "…" not in result.stdout
    assert "\x1b[" not in result.stdout
    # labels from the enrich stage instead of the address
    assert "token USDT" in result.stdout and USDT not in result.stdout

    summary = json.loads((tmp_path / "summary.json").read_text())
    parts = [summary.get(f"inclusions_{s}", 0) for s in ("included", "reorged", "expired")]
    assert sum(parts) == summary["inclusions"] > 0
    err = result.stderr
    assert re.search(r"items read in [\d.,]+ s \([\d,]+ items/s\)", err)
    assert f"{parts[0]:,} included, {parts[1]:,} reorged, {parts[2]:,} expired" in err
    assert "every tx inside the blocks read" in err  # why normalized exceeds read
    for name in ("alerts.jsonl", "detections.jsonl", "dead_letters.jsonl", "summary.json"):
        assert str(tmp_path / name) in err
    assert f"{tmp_path / 'archive'} (Delta Lake tables" in err


def test_quiet_shows_only_high_and_critical_and_colour_on_request(tmp_path: Path) -> None:
    replay = sample_slice(tmp_path, 1500)
    out = tmp_path / "out"
    result = scorpius(
        "run", "--replay", str(replay), "--quiet", "--color", "always", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    severities = [json.loads(line)["severity"] for line in (out / "alerts.jsonl").open()]
    high = [s for s in severities if s in ("high", "critical")]
    assert high and len(high) < len(severities)  # the slice has lower ones for quiet to hide
    lines = result.stdout.splitlines()
    assert len(lines) == len(high)
    assert all(re.match(r"^\x1b\[[0-9;]+m(HIGH|CRITICAL) ", line) for line in lines), lines[:2]


def test_auto_colour_is_for_terminals_and_no_color_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.local import use_color

    monkeypatch.delenv("NO_COLOR", raising=False)
    primary, terminal = os.openpty()
    try:
        with (tmp_path / "file").open("w") as file:
            assert use_color("auto", terminal) and not use_color("auto", file.fileno())
            assert use_color("always", file.fileno()) and not use_color("never", terminal)
        monkeypatch.setenv("NO_COLOR", "1")
        assert not use_color("auto", terminal)
    finally:
        os.close(primary)
        os.close(terminal)


# 8. --help


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = action.choices[name]
    return found


@pytest.mark.parametrize("command", ["query", "config", "worker", "run", "detect-block"])
def test_every_command_has_a_description(command: str) -> None:
    description = subcommand(command).description
    assert description and len(description) > 40


def test_every_option_of_query_has_help() -> None:
    query = subcommand("query")
    assert [a.dest for a in query._actions if not a.help] == []
    limit = next(a for a in query._actions if a.dest == "limit")
    assert limit.help and "100" in limit.help
