"""Sender recovery on a thread pool (``SCORPIUS_RPC_FEED_RECOVERY_THREADS``) in the live L2 feed
partitions: the same frames, served by the local feed servers, give the same txs and the same
dead letters as inline recovery, and the pool ends with the source."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import brotli
import pytest

from connectors.rpc import Endpoint
from connectors.rpc.endpoints import ARBITRUM_FEED, FLASHBLOCKS
from flows.config import ConfigError, load_config
from flows.wiring.rpc import rpc_settings
from operators.records import DeadLetter, RawItem
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
from tests.connectors.test_rpc import FAST, running, wait_until

# Every tx here: Arbitrum's real one (once valid, once with s >= n) and Base's 12 (one deposit,
# 11 signed), plus one Base tx with a broken s; two signatures fail recovery, 13 txs come out.
TXS, LETTERS = 13, 2


def _bad_s(envelope: bytes) -> bytes:
    """The envelope with its s (the last RLP item, 32 bytes) set to 2^256 - 1: it still decodes,
    but no key signed it, so only sender recovery can find out."""
    assert envelope[-33] == 0xA0, "s is not a 32-byte string here"
    return envelope[:-32] + b"\xff" * 32


def _frames() -> tuple[list[bytes | str], list[bytes | str]]:
    arb = arbitrum_signed_tx()
    arbitrum: list[bytes | str] = [
        ARBITRUM_FRAME,
        feed_frame([(25757172, batch(signed(_bad_s(arb)), batch(signed(arb))))]),
    ]
    flashblock = json.loads(FLASHBLOCK_TXS)
    broken = next(t for t in base_signed_txs() if t[-33] == 0xA0)
    flashblock["diff"]["transactions"].insert(3, "0x" + _bad_s(broken).hex())
    flashblocks: list[bytes | str] = [
        brotli.compress(FLASHBLOCK_DEPOSIT),
        brotli.compress(json.dumps(flashblock).encode()),
    ]
    return arbitrum, flashblocks


def _recovery_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("recover ")]


def _run(threads: int) -> tuple[list[tuple[str, str, tuple[int, ...], str]], list[str], int]:
    """(hash, sender, position, kind) of every tx, the dead letters' reasons, and how many
    recovery pools had threads while the source ran."""
    arbitrum, flashblocks = _frames()
    with FeedServer([arbitrum]) as arb_server, FeedServer([flashblocks]) as fb_server:
        endpoints = [
            Endpoint(ARBITRUM_ONE, arb_server.url, feed=ARBITRUM_FEED),
            Endpoint(BASE, fb_server.url, feed=FLASHBLOCKS),
        ]
        with running(endpoints, replace(FAST, feed_recovery_threads=threads)) as run:
            wait_until(
                lambda: len(run.letters()) >= LETTERS and len(_txs(run.out)) >= TXS,
                what="every tx and dead letter",
            )
            time.sleep(0.3)  # anything more (there should be nothing) arrives too
            pools = {name.rsplit("_", 1)[0] for name in _recovery_threads()}
    txs = sorted(
        (
            x.hash or "",
            json.loads(x.payload)["from"],
            tuple(json.loads(x.payload)["position"]),
            x.kind,
        )
        for x in _txs(run.out)
    )
    reasons = sorted(f"{x.stage} {x.reason}" for x in run.out if isinstance(x, DeadLetter))
    return txs, reasons, len(pools)


def _txs(out: list) -> list[RawItem]:
    return [x for x in out if isinstance(x, RawItem) and x.kind in ("sequenced", "preconfirmed")]


def test_pooled_recovery_gives_the_same_txs_and_dead_letters_as_inline() -> None:
    inline, inline_letters, inline_pools = _run(0)
    pooled, pooled_letters, pooled_pools = _run(2)
    assert len(inline) == TXS and len({h for h, *_ in inline}) == TXS
    assert all(sender.startswith("0x") and len(sender) == 42 for _, sender, _, _ in inline)
    assert pooled == inline
    assert pooled_letters == inline_letters
    assert len(inline_letters) == LETTERS
    assert all(" bad signature: " in reason for reason in inline_letters), inline_letters
    assert {r.split()[0] for r in inline_letters} == {"source.arbitrum_feed", "source.flashblocks"}
    # Inline runs no pool; pooled, one per partition (each had frames with several signatures),
    # and stopping the source ends their threads.
    assert inline_pools == 0 and pooled_pools == 2
    assert _recovery_threads() == []


def test_a_negative_thread_count_is_refused() -> None:
    cfg = load_config({"SCORPIUS_RPC_FEED_RECOVERY_THREADS": "-1"}).rpc
    with pytest.raises(ConfigError, match="SCORPIUS_RPC_FEED_RECOVERY_THREADS"):
        rpc_settings(cfg)
    assert rpc_settings(replace(cfg, feed_recovery_threads=3)).feed_recovery_threads == 3
