"""Start-up stays light: building the default flow and `scorpius --help` import no optional heavy
connector (measured with `python -X importtime`, see docs/performance.md). Each is imported only
when the configuration selects it: Kafka, ClickHouse, mempool-dumpster files (eth_account and
py_ecc), the archive's Delta reader/writer (deltalake, opened when the sink first writes), S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from connectors.archive_tables import TABLES
from flows.commands.archive import TABLE_NAMES

HEAVY = (
    "eth_account",
    "py_ecc",
    "clickhouse_driver",
    "confluent_kafka",
    "deltalake",
    "s3fs",
    "botocore",
    "pyarrow.dataset",
    "web3",
)

PROBE = """
import json, sys
from flows.config import load_config
from flows.mempool import build_flow
from flows.cli import build_parser
build_flow(load_config())
build_parser()
print(json.dumps({name: name in sys.modules for name in sys.argv[1:]}))
"""


def python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """What a fresh interpreter at the repository root prints running ``code``."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    ).stdout


def test_default_flow_and_cli_import_no_optional_heavy_module() -> None:
    # A clean environment: the defaults (bundled sample, local outputs, no servers).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    out = python(PROBE, *HEAVY, env=env)
    loaded = [name for name, present in json.loads(out).items() if present]
    assert loaded == []


def test_selecting_a_connector_imports_it() -> None:
    # The probe above would pass vacuously if the check could not see a module: show it can.
    out = python("import sys, flows.wiring.storage; print('deltalake' in sys.modules)")
    assert out.strip() == "False"
    out = python(
        "import sys, connectors.archive_query as q; q.open_table('/nonexistent', None); "
        "print('deltalake' in sys.modules)"
    )
    assert out.strip() == "True"


def test_the_cli_table_names_are_the_archive_tables() -> None:
    assert tuple(sorted(TABLES)) == TABLE_NAMES
