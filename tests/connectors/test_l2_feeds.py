"""The L2 feed partitions of the RPC source against local websocket servers speaking each feed's
wire format (Arbitrum: JSON text frames and nitro's headers; Flashblocks: brotli binary frames),
serving the real frames of tests/data/l2 and broken ones, through bytewax with dedup."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import brotli
import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow, Stream
from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.rpc import Endpoint
from connectors.rpc.endpoints import ARBITRUM_FEED, FLASHBLOCKS
from flows.config import ConfigError, load_config
from flows.mempool import build_flow
from flows.steps.detect import preconfirmed_detect
from flows.wiring.rpc import endpoints_from_config
from operators.l2.flashblocks import FlashblockDecoder, flashblock_item
from operators.normalize import normalize_item
from operators.records import DeadLetter, RawItem, Tx
from tests.connectors.l2_frames import (
    ARBITRUM_FRAME,
    ARBITRUM_ONE,
    BASE,
    FLASHBLOCK_DEPOSIT,
    FLASHBLOCK_TXS,
    FeedServer,
    arbitrum_signed_tx,
    base_signed_txs,
    batch,
    feed_frame,
    signed,
)
from tests.connectors.test_rpc import FAST, metric, running, wait_until


def errors(source: str, chain: int, reason: str) -> float:
    labels = {"source": source, "chain": str(chain), "reason": reason}
    return metric("scorpius_source_errors_total", **labels)


def sequenced(items: list, kind: str) -> list[Tx]:
    raws = [x for x in items if isinstance(x, RawItem) and x.kind == kind]
    txs = [t for r in raws for t in normalize_item(r)]
    assert all(isinstance(t, Tx) for t in txs), txs
    return [t for t in txs if isinstance(t, Tx)]


def test_arbitrum_feed_delivers_sequenced_txs_and_survives_every_broken_frame() -> None:
    cfg = replace(FAST, max_frame_bytes=64 * 1024)
    arb, base_tx = arbitrum_signed_tx(), base_signed_txs()[0]
    first: list[bytes | str] = [
        ARBITRUM_FRAME,  # the real frame, as the docs show it
        feed_frame([(25757172, batch(signed(arb), batch(signed(arb))))]),
        feed_frame([(25757173, "BAL4%%%")]),  # bad base64
        feed_frame([(25757174, b"\x05\x00")]),  # unknown l2 message kind
        feed_frame([(25757175, signed(arb[:-9]))]),  # truncated RLP
        feed_frame([(25757176, signed(base_tx))]),  # signed for chain 8453
        b"x" * (100 * 1024),  # oversize: the client closes (1009), reports, reconnects
    ]
    second: list[bytes | str] = [ARBITRUM_FRAME, feed_frame([(25757177, signed(arb))])]
    with FeedServer([first, second], chain_header=ARBITRUM_ONE) as server:
        endpoint = Endpoint(ARBITRUM_ONE, server.url, feed=ARBITRUM_FEED)
        oversize_before = errors(ARBITRUM_FEED, ARBITRUM_ONE, "oversize frame")
        with running([endpoint], cfg) as run:
            wait_until(lambda: len(server.requests) >= 2, what="a reconnect after the oversize")
            wait_until(lambda: len(run.letters()) >= 5, what="the dead letters")
            time.sleep(0.5)
    txs = sequenced(run.out, "sequenced")
    # One tx hash: the docs tx, in every frame and batch; dedup lets the first sighting through.
    assert [(t.hash, t.position, t.stage) for t in txs] == [
        ("0x" + _keccak(arb), (25757171, 0), "sequenced")
    ]
    assert txs[0].source == endpoint.name and txs[0].chain_id == ARBITRUM_ONE
    reasons = sorted(x.reason.split(":")[0] for x in run.letters())
    for reason in ("bad base64", "unknown message kind", "truncated or malformed RLP"):
        assert reason in reasons, reasons
    assert "wrong chain id" in reasons and "oversize frame" in reasons
    assert all(x.source == endpoint.name and x.chain_id == ARBITRUM_ONE for x in run.letters())
    assert errors(ARBITRUM_FEED, ARBITRUM_ONE, "oversize frame") - oversize_before >= 1
    # nitro's client headers: the version, and after the reconnect the next sequence wanted.
    assert server.requests[0]["Arbitrum-Feed-Client-Version"] == "2"
    assert "Arbitrum-Requested-Sequence-Number" not in server.requests[0]
    assert server.requests[1]["Arbitrum-Requested-Sequence-Number"] == "25757177"


def test_a_relay_of_another_chain_is_refused() -> None:
    with FeedServer([[ARBITRUM_FRAME]], chain_header=421614) as server:
        endpoint = Endpoint(ARBITRUM_ONE, server.url, feed=ARBITRUM_FEED)
        with running([endpoint], replace(FAST, wrong_chain_retry_s=30)) as run:
            wait_until(lambda: bool(run.letters()), what="the wrong-chain dead letter")
    [letter] = run.letters()
    assert letter.reason.startswith("wrong chain id: ") and "'421614'" in letter.reason
    assert run.items("sequenced") == []


def test_flashblocks_feed_delivers_brotli_frames_as_preconfirmed_txs() -> None:
    frames: list[bytes | str] = [
        brotli.compress(FLASHBLOCK_DEPOSIT),
        b"\x1b\xff not brotli at all",
        brotli.compress(FLASHBLOCK_TXS),
        FLASHBLOCK_TXS.decode(),  # a text frame of plain JSON: the same txs, deduped
    ]
    with FeedServer([frames]) as server:
        endpoint = Endpoint(BASE, server.url, feed=FLASHBLOCKS)
        with running([endpoint]) as run:
            wait_until(lambda: len(run.items("preconfirmed")) >= 12, what="12 preconfirmed txs")
            time.sleep(0.3)
    # Dedup shards by hash, so arrival order across txs is not kept: order by position.
    txs = sorted(sequenced(run.out, "preconfirmed"), key=lambda t: t.position)
    assert len(txs) == 12 and len({t.hash for t in txs}) == 12
    assert txs[0].tx_type == 0x7E and txs[0].position == (26600873, 0, 0)
    assert [t.position for t in txs[1:]] == [(37646058, 10, i) for i in range(11)]
    assert {json.loads(r.payload)["hash"] for r in run.items("preconfirmed")} == {
        t.hash for t in txs
    }
    [letter] = run.letters()
    assert letter.reason.startswith("garbage frame: not brotli")
    assert letter.stage == "source.flashblocks"
    # Each flashblock whose receipts have logs also comes whole, once, for the preconfirmed step.
    whole = sorted(x.hash or "" for x in run.items("flashblock"))
    assert whole == ["0x0307de8ff1df8ed8/0", "0x0316ecb1aa1671b5/10"]


def test_preconfirmed_step_classifies_real_flashblock_receipts_and_survives_bad_items() -> None:
    decoder = FlashblockDecoder(BASE, "fb")
    flashblock, items = decoder.decode(brotli.compress(FLASHBLOCK_TXS), 7)
    assert flashblock is not None
    whole = flashblock_item(flashblock, items, BASE, "fb", 7)
    assert whole is not None
    broken = RawItem("flashblock", BASE, "fb", 8, b'{"block_number": "x"}', "0x1/1")
    out: list = []
    flow = Dataflow("preconfirmed_test")
    source: list[RawItem | Tx | DeadLetter] = [whole, items[0], broken]
    inp: Stream[RawItem | Tx | DeadLetter] = op.input(
        "in", flow, TestingSource[RawItem | Tx | DeadLetter](source)
    )
    found = preconfirmed_detect("pre", inp)
    op.output("out", op.merge("all", found.oks, found.errs), TestingSink(out))
    run_main(flow)
    # The real frame's receipts hold one swap (Balancer V2, USDC in) and no MEV shape.
    [letter] = out
    assert isinstance(letter, DeadLetter) and letter.stage == "preconfirmed_mev"
    assert letter.reason.startswith("detector error: ValidationError")


def _keccak(data: bytes) -> str:
    from eth_utils import keccak

    return keccak(data).hex()


def test_feed_urls_are_configured_per_chain_and_must_be_websockets() -> None:
    cfg = load_config(
        {
            "ARBITRUM_FEED_URLS": "wss://arb1.arbitrum.io/feed,wss://relay.example/feed",
            "BASE_FLASHBLOCKS_URLS": "wss://mainnet.flashblocks.base.org/ws",
            "ARBITRUM_RPC_URLS": "wss://arb1.example/ws/KEY",
        }
    ).rpc
    found = endpoints_from_config(cfg)
    assert [(e.chain_id, e.feed, e.index) for e in found] == [
        (ARBITRUM_ONE, "rpc", 0),
        (ARBITRUM_ONE, ARBITRUM_FEED, 0),
        (ARBITRUM_ONE, ARBITRUM_FEED, 1),
        (BASE, FLASHBLOCKS, 0),
    ]
    assert found[1].name == "arbitrum_feed:42161:wss://arb1.arbitrum.io/feed"
    assert len({e.partition for e in found}) == 4
    with pytest.raises(ConfigError, match="BASE_FLASHBLOCKS_URLS"):
        endpoints_from_config(load_config({"BASE_FLASHBLOCKS_URLS": "https://x.example"}).rpc)


def test_the_flow_runs_a_flashblocks_feed_end_to_end(tmp_path: Path) -> None:
    """flows.mempool with only a Flashblocks URL: txs reach the enriched stream (summary), the
    garbage frame the dead-letter file."""
    frames: list[bytes | str] = [
        brotli.compress(FLASHBLOCK_DEPOSIT),
        brotli.compress(FLASHBLOCK_TXS),
        b"\x1b\xff not brotli",
    ]
    stop = threading.Event()
    out = tmp_path / "out"
    with FeedServer([frames]) as server:
        cfg = load_config(
            {
                "SCORPIUS_SOURCE_KIND": "rpc",
                "BASE_FLASHBLOCKS_URLS": server.url,
                "SCORPIUS_OUTPUT_DIR": str(out),
                "SCORPIUS_OUTPUT_CONSOLE": "false",
            }
        )
        thread = threading.Thread(target=run_main, args=(build_flow(cfg, stop),), daemon=True)
        thread.start()
        try:
            # The garbage frame comes last: once its dead letter is out, the txs went through.
            wait_until(lambda: bool(_dead(out)), timeout=120, what="the garbage frame's letter")
            time.sleep(1.0)
        finally:
            stop.set()
            thread.join(timeout=60)
    assert not thread.is_alive()
    assert _normalized(out) == 12  # the summary is written when the flow ends
    [letter] = _dead(out)
    assert letter["reason"].startswith("garbage frame: not brotli")
    assert letter["stage"] == "source.flashblocks"


def _normalized(out: Path) -> int:
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(summary.get("normalized", 0))


def _dead(out: Path) -> list[dict]:
    path = out / "dead_letters.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
