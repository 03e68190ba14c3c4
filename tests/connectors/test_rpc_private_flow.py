"""Private order flow with the live RPC source on a real Anvil node: a tx put straight into a block
(never pending on the watched node) is private, one seen pending is public, one mined while the
source was cut off from the node is unknown. The source reaches the node through a loopback TCP
relay written here, so the test can cut the connection while the node (and its chain) lives on."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.operators import BranchOut
from bytewax.testing import TestingSink, run_main
from eth_account import Account

from connectors.rpc import Endpoint
from flows.config import RpcConfig
from flows.steps import private
from flows.steps.checked import is_block, is_tx, split
from flows.steps.dedup import dedup_items
from flows.steps.normalize import normalize_stage
from flows.wiring.rpc import rpc_source
from operators.mev.private import PRIVATE, PUBLIC, UNKNOWN, is_watch_item, watch_state
from operators.records import Block, Tx
from tests.connectors.test_rpc import FAST, connected, nonce_of, send, tx_of_type, wait_until
from tests.services.anvil import DEV_KEYS, StartAnvil
from tests.services.ports import free_port

pytestmark = pytest.mark.service

LOOKBACK_S = 1.0


class Relay:
    """Loopback TCP relay to a port; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        for sock in [listener, *conns]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def private_flow(endpoint: Endpoint, cfg: RpcConfig) -> Iterator[tuple[list[Tx], list[Block]]]:
    """Source → dedup → watch states / normalize → the private-flow step, as the flow wires them."""
    stop = threading.Event()
    pending: list[Tx] = []
    blocks: list[Block] = []
    flow = Dataflow("private_flow_test")
    raw = dedup_items("dedup", op.input("rpc", flow, rpc_source([endpoint], cfg, stop)))
    watch = op.filter_map("watch", raw, watch_state)
    norm = normalize_stage("normalize", op.filter("rest", raw, lambda x: not is_watch_item(x)))
    normalized: BranchOut[Tx, Block] = split("is_tx", norm.oks, is_tx)
    annotated = private.private_flow(
        "private", normalized.trues, normalized.falses, watch, LOOKBACK_S, cfg
    )
    op.output("pending", normalized.trues, TestingSink(pending))
    only_blocks: BranchOut[Block, Tx] = split("blocks_only", annotated, is_block)
    op.output("blocks", only_blocks.trues, TestingSink(blocks))
    thread = threading.Thread(target=run_main, args=(flow,), daemon=True)
    thread.start()
    try:
        yield pending, blocks
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the flow did not end after the stop signal"


def _signed(chain_id: int, tx: dict[str, Any], key: str) -> tuple[str, str]:
    """The raw signed tx and its hash."""
    signed = Account.sign_transaction({"chainId": chain_id, **tx}, key)
    return "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()


def test_private_public_and_unknown_mined_txs_on_anvil(anvil_nodes: StartAnvil) -> None:
    node = anvil_nodes()
    relay = Relay(node.port)
    relay.open()
    endpoint = Endpoint(node.chain_id, f"ws://127.0.0.1:{relay.port}", 0)
    cfg = FAST
    with private_flow(endpoint, cfg) as (pending, blocks):

        def status() -> dict[str, str]:
            return {h: s for b in blocks for h, s in zip(b.tx_hashes, b.tx_private, strict=True)}

        wait_until(lambda: connected(endpoint), what="the source to connect")
        time.sleep(LOOKBACK_S + 1.2)  # watched for the whole lookback before the next block
        node.rpc("evm_mine")

        # Public: sent to the watched node, seen pending, then mined.
        public = send(node, tx_of_type(2, nonce_of(node, DEV_KEYS[0]), 1), DEV_KEYS[0])
        wait_until(lambda: public in {t.hash for t in pending}, what="the pending tx")
        node.rpc("evm_mine")

        # Private: placed straight into a block (Anvil's anvil_reorg mines the given txs into the
        # replacing block without them entering the node's pool).
        node.rpc("evm_mine")
        raw, private = _signed(node.chain_id, tx_of_type(2, 0, 2), DEV_KEYS[1])
        node.rpc("anvil_reorg", 1, [[raw, 0]])
        wait_until(lambda: private in status(), what="the replacing block")

        # Unknown: mined while the source is cut off from the node, read back after reconnecting.
        relay.cut()
        wait_until(lambda: not connected(endpoint), what="the source to notice the cut")
        time.sleep(1.2)
        unseen = send(node, tx_of_type(2, nonce_of(node, DEV_KEYS[2]), 3), DEV_KEYS[2])
        node.rpc("evm_mine")
        time.sleep(0.5)
        relay.open()
        wait_until(lambda: connected(endpoint), what="the source to reconnect")
        node.rpc("evm_mine")  # the next head makes the source fetch the block it missed
        wait_until(lambda: unseen in status(), what="the block mined while cut off")
        assert unseen not in {t.hash for t in pending}
    relay.cut()

    got = status()
    assert got[public] == PUBLIC
    assert got[private] == PRIVATE
    assert got[unseen] == UNKNOWN
    assert private not in {t.hash for t in pending}
    by_hash = {t.hash: t.private for b in blocks for t in b.txs}
    assert (by_hash[public], by_hash[private], by_hash[unseen]) == (PUBLIC, PRIVATE, UNKNOWN)
