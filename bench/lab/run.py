"""One lab run: a fresh Anvil node, the world deployed, the product's flow started against the
node as a user starts it (live RPC source, the user's factories and router labels), the scripted
population sending block after block, then every detection scored against the ground truth."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bytewax.testing import run_main
from prometheus_client import REGISTRY

from bench.lab.node import LabNode
from bench.lab.population import Accounts, Population, Truth
from bench.lab.score import Score, score
from bench.lab.world import deploy
from bench.testbed import AnvilNode, anvil_binary, wait_until
from flows.config import load_config
from flows.mempool import build_flow

CHAIN = 31337


@dataclass
class LabResult:
    scores: list[Score]
    truth: Truth
    blocks: int
    pending_sent: int
    seconds: float
    out: Path


def _counter(stage: str) -> float:
    return (
        REGISTRY.get_sample_value("scorpius_stage_items_total", {"stage": stage, "outcome": "ok"})
        or 0.0
    )


def _settle(stage: str, at_least: float, timeout: float = 30.0, quiet_s: float = 0.3) -> None:
    """Waits until the flow's ``stage`` count reaches ``at_least`` and then stops moving."""
    deadline = time.monotonic() + timeout
    last, since = _counter(stage), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = _counter(stage)
        if now != last:
            last, since = now, time.monotonic()
        elif now >= at_least and time.monotonic() - since >= quiet_s:
            return


def _wait(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    wait_until(check, timeout, what, interval=0.1)


def run_lab(
    blocks: int,
    per_block: int,
    seed: int,
    out: Path | None = None,
    log: Callable[[str], None] = print,
    send_gap_ms: float = 5.0,
) -> LabResult:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="scorpius-lab-"))
    out = out or work / "out"
    anvil = AnvilNode(anvil_binary(), CHAIN)
    anvil.start()
    stop = threading.Event()
    flow: threading.Thread | None = None
    try:
        node = LabNode(anvil)
        accounts = Accounts.make(per_block)
        deployer = "0x" + "d0" * 20
        node.prepare([deployer, *accounts.all()])
        log(f"lab: deploying Uniswap V2/V3 from npm on Anvil :{anvil.port} ...")
        world = deploy(node, deployer, accounts.bot_owners(), accounts.traders())
        environ = {
            "SCORPIUS_SOURCE_KIND": "rpc",
            "SCORPIUS_RPC_EXTRA": f"{CHAIN}={anvil.ws_url}",
            "SCORPIUS_RPC_HEAD_STALL_S": "0",
            "SCORPIUS_OUTPUT_DIR": str(out),
            "SCORPIUS_OUTPUT_CONSOLE": "false",
            **world.settings(work, CHAIN),
        }
        cfg = load_config(environ)
        flow = threading.Thread(target=run_main, args=(build_flow(cfg, stop),), daemon=True)
        flow.start()
        _wait(
            lambda: any(
                s.value == 1.0
                for m in REGISTRY.collect()
                if m.name == "scorpius_rpc_connected"
                for s in m.samples
                if s.labels.get("chain") == str(CHAIN)
            ),
            "the flow's connection to Anvil",
        )
        population = Population(node, world, accounts, seed, send_gap_ms)
        mined_ms: dict[int, int] = {}
        first_block = node.block_number() + 1
        for i in range(blocks):
            number = first_block + i
            before = _counter("normalized")
            sent_before = len(population.truth.sent)
            population.send_block(number, per_block)
            batch = list(population.truth.sent.values())[sent_before:]
            # A replaced tx may be gone before the flow fetches it: only the rest must arrive.
            _settle("normalized", before + sum(not s.replaced for s in batch), timeout=10.0)
            seen_blocks = _counter("blocks")
            mined_ms[number] = int(time.time() * 1000)
            node.mine()
            _wait(lambda seen=seen_blocks: _counter("blocks") > seen, f"block {number} in the flow")  # type: ignore[misc]
            _settle("normalized", 0, quiet_s=0.2)
            if (i + 1) % 10 == 0 or i < 3:
                status = node.rpc("txpool_status")
                log(
                    f"lab: {i + 1}/{blocks} blocks, {len(population.truth.sent)} pending txs sent, "
                    f"left in the pool: {int(status['pending'], 16)} pending, "
                    f"{int(status['queued'], 16)} queued"
                )
                if int(status["queued"], 16):
                    queued = node.rpc("txpool_inspect")["queued"]
                    log(f"lab: queued: {json.dumps(queued)[:600]}")
        time.sleep(2.0)  # the last alerts and links
        stop.set()
        flow.join(timeout=120)
        receipts = _receipts(node, first_block, first_block + blocks - 1)
        detections = [
            json.loads(line)
            for line in (out / "detections.jsonl").read_text().splitlines()
            if line.strip()
        ]
        scores = score(detections, population.truth, receipts, mined_ms)
        with (out / "truth.jsonl").open("w") as fh:  # the ground truth, one tx a line
            for sent in population.truth.sent.values():
                fh.write(json.dumps(dataclasses.asdict(sent)) + "\n")
        return LabResult(
            scores,
            population.truth,
            blocks,
            len(population.truth.sent),
            time.monotonic() - started,
            out,
        )
    finally:
        stop.set()
        if flow is not None:
            flow.join(timeout=120)
        anvil.close()


def _receipts(node: LabNode, first: int, last: int) -> dict[str, dict[str, Any]]:
    receipts: dict[str, dict[str, Any]] = {}
    for number in range(first, last + 1):
        for receipt in node.rpc("eth_getBlockReceipts", hex(number)) or []:
            receipts[receipt["transactionHash"].lower()] = receipt
    return receipts
