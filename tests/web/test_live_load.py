"""The Live page under 1,000 tx/s: rows stay bounded and the page still answers a click.

The figures (frame rate, long tasks) are printed, not asserted: speed is measured by
``bench/bench_console.py``, whose measurement this test runs for a shorter time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.bench_console import TxWriter, measure_live, sample_lines
from tests.web.conftest import Served, start_serve, stop_serve

pytestmark = [pytest.mark.slow, pytest.mark.service, pytest.mark.browser]

RATE = 1000.0
MAX_ROWS = 200  # web/src/live-feed.ts


@pytest.fixture(scope="module")
def fed(
    console_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, TxWriter]]:
    """``scorpius serve`` whose embedded feed gets enriched sample txs at 1,000 per second."""
    served = start_serve(tmp_path_factory.mktemp("console-load"), [])
    writer = TxWriter(served.out / "tx_enriched.jsonl", sample_lines(), RATE)
    writer.start()
    try:
        yield served, writer
    finally:
        writer.stop.set()
        writer.join(timeout=5)
        stop_serve(served.process)


def test_live_page_keeps_bounded_rows_and_answers_at_1000_tx_per_s(
    browser: Any, fed: tuple[Served, TxWriter]
) -> None:
    served, writer = fed
    figures = measure_live(browser, served.url, served.keys["viewer"], writer, seconds=8)
    print(f"Live page under load: {figures}")
    assert figures["tx_per_s"] >= 0.8 * RATE, figures  # the feed really ran at the rate
    assert 0 < figures["rows"] <= MAX_ROWS, figures
    assert figures["fps"] > 0, figures
    assert "tx/s" in figures["rates"]
