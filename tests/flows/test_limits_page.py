"""operators/LIMITS.md's table is generated from the code (flows/limits_table.py): a changed
default or constant makes this test fail until the page is regenerated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flows.config import Config, LimitsConfig
from flows.limits_table import BEGIN, END, markdown_table, rows, with_table

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "operators" / "LIMITS.md"


def test_limits_page_carries_the_current_table() -> None:
    page = PAGE.read_text()
    assert BEGIN in page and END in page
    assert with_table(page) == page, "stale: run scorpius config --update operators/LIMITS.md"


def test_the_table_shows_the_configured_values_not_written_ones() -> None:
    default = markdown_table()
    assert len(default.splitlines()) == len(rows()) + 2
    row = f"| {LimitsConfig().max_tx_payload_bytes >> 20} MiB | `SCORPIUS_LIMITS_MAX_TX_PAYLOAD_BYTES` |"
    assert row in default
    changed = markdown_table(Config(limits=LimitsConfig(max_tx_payload_bytes=3 << 20)))
    assert "| 3 MiB | `SCORPIUS_LIMITS_MAX_TX_PAYLOAD_BYTES` |" in changed
    assert row not in changed


def test_update_command_rewrites_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "LIMITS.md"
    stale.write_text(f"# Limits\n\n{BEGIN}\n| old |\n{END}\n")
    subprocess.run(
        [sys.executable, "-m", "flows.cli", "config", "--update", str(stale)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert stale.read_text() == f"# Limits\n\n{BEGIN}\n{markdown_table()}\n{END}\n"
