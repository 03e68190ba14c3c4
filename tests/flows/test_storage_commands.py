"""The storage subcommands: scorpius query, scorpius archive ..., scorpius clickhouse."""

from __future__ import annotations

import argparse
from pathlib import Path

import bytewax.operators as op
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from clickhouse_driver import Client

from connectors.delta_archive import DeltaArchiveSink
from flows.commands import archive as archive_command
from flows.commands import clickhouse as clickhouse_command
from flows.steps.archive import archive
from tests.connectors.samples import HOUR_MS, T0_MS, make_tx
from tests.services.clickhouse import ClickHouseDatabase


def scorpius(argv: list[str]) -> int:
    # Only the storage commands: the CLI's other modules belong to other parts of the project.
    parser = argparse.ArgumentParser(prog="scorpius")
    subparsers = parser.add_subparsers(dest="command", required=True)
    archive_command.register(subparsers)
    clickhouse_command.register(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def archive_url(tmp_path: Path) -> str:
    txs = [make_tx(i, seen_ms=T0_MS + i * 24 * HOUR_MS) for i in range(3)]  # Aug 4, 5, 6 2023
    flow = Dataflow("cli")
    archive(
        "a",
        op.input("in", flow, TestingSource(txs)),
        DeltaArchiveSink(str(tmp_path), "transactions", batch_rows=1),  # three commits
    )
    run_main(flow)
    return str(tmp_path)


def test_query_prints_json_lines_and_a_cursor(
    archive_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scorpius(["query", "--url", archive_url, "--since", "2023-08-05", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert orjson.loads(line)["hash"] == make_tx(1).hash
    cursor = err.split("--cursor ", 1)[1].strip()
    assert (
        scorpius(["query", "--url", archive_url, "--cursor", cursor, "--since", "2023-08-05"]) == 0
    )
    out, err = capsys.readouterr()
    assert [orjson.loads(x)["hash"] for x in out.splitlines()] == [make_tx(2).hash]
    assert "next page" not in err


def test_query_explain_and_min_value_in_eth(
    archive_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        scorpius(
            ["query", "--url", archive_url, "--until", "2023-08-05T00:00:00+00:00", "--explain"]
        )
        == 0
    )
    (path,) = capsys.readouterr().out.splitlines()
    assert "date=2023-08-04" in path
    assert scorpius(["query", "--url", archive_url, "--min-value", "0.15eth"]) == 0
    assert [orjson.loads(x)["hash"] for x in capsys.readouterr().out.splitlines()] == [
        make_tx(2).hash
    ]


def test_query_refuses_a_filter_the_table_lacks(
    archive_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        scorpius(["query", "--url", archive_url, "--table", "alerts", "--selector", "0x12345678"])
        == 2
    )
    assert "does not apply" in capsys.readouterr().err


def test_retention_dry_run_delete_then_vacuum(
    archive_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Relative to today all of 2023 is old: a 1-day retention removes every partition.
    assert scorpius(["archive", "retention", "--url", archive_url, "--days", "1", "--dry-run"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert scorpius(["archive", "retention", "--url", archive_url, "--days", "1"]) == 0
    capsys.readouterr()
    assert scorpius(["query", "--url", archive_url]) == 0
    assert capsys.readouterr().out == ""
    # The deleted rows stay readable by time travel until a vacuum removes their files.
    assert scorpius(["query", "--url", archive_url, "--version", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert len(list(Path(archive_url).rglob("*.parquet"))) == 3
    assert scorpius(["archive", "vacuum", "--url", archive_url, "--hours", "0"]) == 0
    assert list(Path(archive_url).rglob("*.parquet")) == []


def test_compact_then_history(archive_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    more = [make_tx(i, seen_ms=T0_MS + 24 * HOUR_MS) for i in range(3, 6)]  # Aug 5 + i ms
    flow = Dataflow("more")
    archive(
        "a",
        op.input("in", flow, TestingSource(more)),
        DeltaArchiveSink(archive_url, "transactions", batch_rows=1),
    )
    run_main(flow)
    explain = ["query", "--url", archive_url, "--since", "2023-08-05", "--until", "2023-08-06"]
    assert scorpius([*explain, "--explain"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4  # Aug 5: tx 1 and 3, 4, 5
    assert scorpius(["archive", "compact", "--url", archive_url, "--table", "transactions"]) == 0
    assert "4 file(s) -> 1" in capsys.readouterr().err
    assert scorpius([*explain, "--explain"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert scorpius(["archive", "history", "--url", archive_url, "--limit", "2"]) == 0
    commits = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [c["operation"] for c in commits] == ["OPTIMIZE", "WRITE"]


@pytest.mark.service
def test_clickhouse_apply_schema(
    clickhouse_db: ClickHouseDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scorpius(["clickhouse", "apply-schema", "--url", clickhouse_db.url]) == 0
    assert "mev_events" in capsys.readouterr().out
    tables = {name for (name,) in Client.from_url(clickhouse_db.url).execute("SHOW TABLES")}
    assert tables == {
        "transactions",
        "blocks",
        "mev_events",
        "rule_matches",
        "alerts",
        "dead_letters",
    }
