"""Is the web console's Live page responsive at 1,000 tx/s? Frame rate and long tasks in chromium.

    python -m bench.bench_console [--rate 1000] [--seconds 20]

A real ``scorpius serve`` (embedded feed) tails ``tx_enriched.jsonl`` in its output folder; this
script appends the bundled sample's transactions to it (normalized and enriched by the flow's own
operators, each with a fresh hash and the current time) at ``--rate`` per second, as the flow
would. Debian's chromium (headless, through Playwright) has the Live page open, signed in with a
viewer key, and counts animation frames (``requestAnimationFrame``) and long tasks (the
``longtask`` PerformanceObserver: main-thread tasks over 50 ms) over ``--seconds`` after a warm-up,
and the CPU time of the page's main thread and of its renderer process (Chrome's ``ThreadTime``
and ``ProcessTime`` metrics; the renderer's includes the Live page's worker, which owns the
socket). Frames and long tasks are wall-clock figures: on a busy machine they say as much about
the machine as about the page; the CPU shares say what the page itself costs.
Prints one line of figures: the page keeps at most ``MAX_ROWS`` (200, web/src/live-feed.ts) rows
and puts only those in view in the DOM (``rows``), and counts the rest as dropped.
"""

from __future__ import annotations

import argparse
import itertools
import re
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import msgspec

from bench.testbed import CHROMIUM, CHROMIUM_FLAGS, build_console, start_serve, stop_serve
from flows.commands.rules import recorded_enriched
from flows.config import BUNDLED_SAMPLE, Config
from operators.records import EnrichedTx, encode_json

WARMUP_S = 3.0
ROWS = "[data-testid=live-table] tbody tr.clickable"
DROPPED = "[data-testid=dropped]"

_PROBE = """() => {
  window.__perf = {frames: 0, long: [], start: performance.now()};
  const tick = () => { window.__perf.frames++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__perf.long.push(e.duration);
  }).observe({type: 'longtask', buffered: false});
}"""

_READ = """() => ({frames: window.__perf.frames, long: window.__perf.long,
  elapsed: performance.now() - window.__perf.start})"""


def sample_lines() -> list[EnrichedTx]:
    return [i for i in recorded_enriched([BUNDLED_SAMPLE], Config()) if isinstance(i, EnrichedTx)]


class TxWriter(threading.Thread):
    """Appends enriched txs to the tailed file at a steady rate (10 ms ticks), as the flow does."""

    def __init__(self, path: Path, txs: list[EnrichedTx], rate: float) -> None:
        super().__init__(name="tx-writer", daemon=True)
        self.path, self.txs, self.rate = path, txs, rate
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        source = itertools.cycle(self.txs)
        start = time.monotonic()
        with self.path.open("ab") as f:
            while not self.stop.is_set():
                due = int((time.monotonic() - start) * self.rate)
                lines = []
                for _ in range(due - self.written):
                    etx = next(source)
                    self.written += 1
                    tx = msgspec.structs.replace(
                        etx.tx,
                        hash=f"0x{self.written:064x}",
                        first_seen_ms=int(time.time() * 1000),
                        block_number=None,
                    )
                    lines.append(encode_json(msgspec.structs.replace(etx, tx=tx)) + b"\n")
                if lines:
                    f.write(b"".join(lines))
                    f.flush()
                time.sleep(0.01)


def _cpu(cdp: Any) -> dict[str, float]:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {name: float(metrics[name]) for name in ("Timestamp", "ThreadTime", "ProcessTime")}


def measure_live(
    browser: Any, url: str, key: str, writer: TxWriter, seconds: float
) -> dict[str, Any]:
    """Figures of the Live page while ``writer`` runs (already started)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{url}/#/signin")
        page.fill("[data-testid=api-key]", key)
        page.click("[data-testid=sign-in]")
        page.wait_for_selector(ROWS, timeout=60_000)
        time.sleep(WARMUP_S)
        # CPU time of the page's main thread and of its whole renderer (with the feed's worker):
        # unlike frames and long tasks, these hardly depend on how busy the rest of the machine is.
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        cpu_before = _cpu(cdp)
        page.evaluate(_PROBE)
        written_before = writer.written
        time.sleep(seconds)
        perf = page.evaluate(_READ)
        cpu = {name: value - cpu_before[name] for name, value in _cpu(cdp).items()}
        written = writer.written - written_before
        rows = page.locator(ROWS).count()
        dropped_text = page.inner_text(DROPPED) if page.locator(DROPPED).count() else ""
        # Still responsive: a click is answered (pause shows its badge, resume clears it).
        clicked = time.monotonic()
        page.click("[data-testid=pause]")
        page.wait_for_selector("[data-testid=rates] .badge.warn")
        click_ms = (time.monotonic() - clicked) * 1000
        page.click("[data-testid=pause]")
        rates = page.inner_text("[data-testid=rates]")
    finally:
        context.close()
    elapsed_s = perf["elapsed"] / 1000
    long_tasks = perf["long"]
    return {
        "tx_per_s": written / elapsed_s,
        "fps": perf["frames"] / elapsed_s,
        "long_tasks": len(long_tasks),
        "long_task_ms_total": sum(long_tasks),
        "long_task_ms_max": max(long_tasks, default=0.0),
        "busy_share": sum(long_tasks) / perf["elapsed"],
        "main_cpu_share": cpu["ThreadTime"] / cpu["Timestamp"],
        "renderer_cpu_share": cpu["ProcessTime"] / cpu["Timestamp"],
        "rows": rows,
        "dropped": int(re.sub(r"\D", "", dropped_text.split("dropped")[0]) or 0),
        "click_ms": click_ms,
        "rates": " ".join(rates.split()),
        "seconds": elapsed_s,
    }


def run(rate: float, seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    build_console()
    txs = sample_lines()
    with TemporaryDirectory(prefix="bench-console-") as tmp:
        served = start_serve(Path(tmp), [])
        writer = TxWriter(served.out / "tx_enriched.jsonl", txs, rate)
        writer.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                try:
                    return measure_live(browser, served.url, served.keys["viewer"], writer, seconds)
                finally:
                    browser.close()
        finally:
            writer.stop.set()
            writer.join(timeout=5)
            stop_serve(served.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="txs per second into the feed")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds")
    args = parser.parse_args()
    f = run(args.rate, args.seconds)
    print(
        f"Live page at {f['tx_per_s']:.0f} tx/s for {f['seconds']:.0f} s: {f['fps']:.1f} frames/s, "
        f"{f['long_tasks']} long tasks (total {f['long_task_ms_total']:.0f} ms, max "
        f"{f['long_task_ms_max']:.0f} ms, main thread blocked {f['busy_share']:.1%} of the time; CPU: main thread "
        f"{f['main_cpu_share']:.1%}, renderer with its workers {f['renderer_cpu_share']:.1%} of a core), "
        f"{f['rows']} rows in the DOM ({f['dropped']} dropped), pause answered in {f['click_ms']:.0f} ms; readout: {f['rates']}"
    )


if __name__ == "__main__":
    main()
