"""The RPC source against real Anvil nodes (and a misbehaving websocket server written here),
run through bytewax with the dedup and inclusion steps the flow puts after it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, cluster_main, run_main
from eth_account import Account
from prometheus_client import REGISTRY
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection

from flows.config import RpcConfig
from flows.steps.dedup import dedup_items
from flows.steps.inclusion import track_inclusion
from flows.wiring.rpc import Endpoint, rpc_source  # the endpoints and source the flow builds
from operators.normalize import normalize_item
from operators.records import Block, DeadLetter, Inclusion, RawItem, Tx
from tests import waiting
from tests.services.anvil import DEV_KEYS, AnvilNode, StartAnvil
from tests.services.ws_fakes import LocalWsServer

pytestmark = pytest.mark.service

CHAIN = 31337
FAST = RpcConfig(
    backoff_initial_s=0.2,
    backoff_max_s=1.0,
    wrong_chain_retry_s=0.5,
    poll_interval_s=0.2,
    request_timeout_s=5.0,
)
RECIPIENT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
CHECKSUMMED = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@dataclass
class Run:
    out: list[Any] = field(default_factory=list)
    inclusions: list[Inclusion] = field(default_factory=list)

    def items(self, kind: str) -> list[RawItem]:
        return [x for x in self.out if isinstance(x, RawItem) and x.kind == kind]

    def letters(self) -> list[DeadLetter]:
        return [x for x in self.out if isinstance(x, DeadLetter)]

    def tx_hashes(self) -> Counter[str]:
        return Counter(json.loads(x.payload)["hash"] for x in self.items("tx"))


@contextlib.contextmanager
def running(endpoints: list[Endpoint], cfg: RpcConfig = FAST, workers: int = 1) -> Iterator[Run]:
    """The source → dedup → sinks (items, inclusion records) in a thread, until the test is done."""
    stop = threading.Event()
    run = Run()
    flow = Dataflow("rpc_test")
    raw = dedup_items("dedup", op.input("rpc", flow, rpc_source(endpoints, cfg, stop)))
    op.output("out", raw, TestingSink(run.out))
    op.output("inclusions", track_inclusion("inclusion", raw), TestingSink(run.inclusions))
    if workers == 1:
        thread = threading.Thread(target=run_main, args=(flow,), daemon=True)
    else:
        thread = threading.Thread(
            target=cluster_main,
            args=(flow, [], 0),
            kwargs={"worker_count_per_proc": workers},
            daemon=True,
        )
    thread.start()
    try:
        yield run
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the flow did not end after the stop signal"


def wait_until(check: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    waiting.wait_until(check, timeout, what)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def connected(endpoint: Endpoint) -> bool:
    chain = str(endpoint.chain_id)
    return metric("scorpius_rpc_connected", chain=chain, endpoint=endpoint.name) == 1.0


def tx_duplicates() -> float:
    return metric("scorpius_source_duplicates_total", chain=str(CHAIN), kind="tx")


def reconnects() -> float:
    return metric("scorpius_source_reconnects_total", source="rpc", chain=str(CHAIN))


def errors(reason: str) -> float:
    return metric("scorpius_source_errors_total", source="rpc", chain=str(CHAIN), reason=reason)


def ws(node: AnvilNode, index: int = 0) -> Endpoint:
    return Endpoint(node.chain_id, node.ws_url, index)


def send(node: AnvilNode, tx: dict[str, Any], key: str = DEV_KEYS[0], **sign: Any) -> str:
    signed = Account.sign_transaction({"chainId": node.chain_id, **tx}, key, **sign)
    tx_hash: str = node.rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    return tx_hash.lower()


def nonce_of(node: AnvilNode, key: str) -> int:
    return int(node.rpc("eth_getTransactionCount", Account.from_key(key).address, "pending"), 16)


def tx_of_type(tx_type: int, nonce: int, value: int) -> dict[str, Any]:
    base = {"nonce": nonce, "to": CHECKSUMMED, "value": value, "gas": 100_000}
    fees = {"maxFeePerGas": 30 * 10**9, "maxPriorityFeePerGas": 2 * 10**9}
    access_list = [{"address": CHECKSUMMED, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    if tx_type == 0:
        return {**base, "gasPrice": 20 * 10**9}
    if tx_type == 1:
        return {**base, "type": 1, "gasPrice": 20 * 10**9, "accessList": access_list}
    if tx_type == 2:
        return {**base, "type": 2, **fees, "accessList": access_list}
    if tx_type == 3:
        return {**base, "type": 3, **fees, "maxFeePerBlobGas": 10**9}
    raise ValueError(tx_type)


def test_pending_txs_of_every_type_arrive_once_with_their_fields(anvil: AnvilNode) -> None:
    endpoint = ws(anvil)
    key = DEV_KEYS[1]
    sender = Account.from_key(key).address.lower()
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        before = time.time_ns() // 1_000_000
        nonce = nonce_of(anvil, key)
        sent: dict[str, tuple[int, dict[str, Any]]] = {}
        for i, tx_type in enumerate((0, 1, 2)):
            tx = tx_of_type(tx_type, nonce + i, 1000 + i)
            sent[send(anvil, tx, key)] = (tx_type, tx)
        blob_tx = tx_of_type(3, nonce + 3, 1003)
        sent[send(anvil, blob_tx, key, blobs=[b"scorpius".ljust(131072, b"\0")])] = (3, blob_tx)
        authority = Account.from_key(DEV_KEYS[2])
        auth = authority.sign_authorization(
            {"chainId": CHAIN, "address": CHECKSUMMED, "nonce": nonce_of(anvil, DEV_KEYS[2])}
        )
        set_code = {
            **tx_of_type(2, nonce + 4, 1004),
            "type": 4,
            "authorizationList": [auth],
        }
        set_code.pop("accessList")
        sent[send(anvil, set_code, key)] = (4, set_code)
        wait_until(lambda: set(run.tx_hashes()) >= set(sent), what="all sent txs")
        time.sleep(0.5)  # anything duplicated would arrive by now
        after = time.time_ns() // 1_000_000

    assert run.tx_hashes() == Counter({h: 1 for h in sent}), "each tx exactly once"
    for item in run.items("tx"):
        tx = json.loads(item.payload)
        tx_type, signed = sent[item.hash or ""]
        assert item.hash == tx["hash"].lower()
        assert item.chain_id == CHAIN
        assert item.source == f"rpc:{CHAIN}:{anvil.ws_url}"
        assert before <= item.seen_ms <= after
        assert int(tx["type"], 16) == tx_type
        assert tx["from"].lower() == sender
        assert tx["to"].lower() == RECIPIENT
        assert int(tx["nonce"], 16) == signed["nonce"]
        assert int(tx["value"], 16) == signed["value"]
        assert int(tx["gas"], 16) == signed["gas"]
        if tx_type in (0, 1):
            assert int(tx["gasPrice"], 16) == signed["gasPrice"]
        else:
            assert int(tx["maxFeePerGas"], 16) == signed["maxFeePerGas"]
            assert int(tx["maxPriorityFeePerGas"], 16) == signed["maxPriorityFeePerGas"]
        if tx_type in (1, 2):
            assert tx["accessList"][0]["address"].lower() == RECIPIENT
        if tx_type == 3:
            assert int(tx["maxFeePerBlobGas"], 16) == signed["maxFeePerBlobGas"]
            assert len(tx["blobVersionedHashes"]) == 1
        if tx_type == 4:
            assert tx["authorizationList"][0]["address"].lower() == RECIPIENT
        # What the source emits is what the flow's normalizer reads.
        (normalized,) = normalize_item(item)
        assert isinstance(normalized, Tx), normalized
        assert (normalized.hash, normalized.tx_type, normalized.first_seen_ms) == (
            item.hash,
            tx_type,
            item.seen_ms,
        )
    assert not run.letters()


def test_mined_block_carries_body_receipts_traces_and_inclusion_latency(
    anvil: AnvilNode,
) -> None:
    endpoint = ws(anvil)
    key = DEV_KEYS[3]
    anvil.rpc("evm_mine")  # what earlier tests left pending goes into a block of its own
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        nonce = nonce_of(anvil, key)
        sent = [send(anvil, tx_of_type(2, nonce + i, 7 + i), key) for i in range(3)]
        wait_until(lambda: set(run.tx_hashes()) >= set(sent), what="the pending txs")
        time.sleep(0.2)  # a measurable inclusion latency
        anvil.rpc("evm_mine")
        wait_until(lambda: len(run.inclusions) >= 3, what="inclusion records")

    (block_item,) = [b for b in run.items("block") if set(sent) <= _block_txs(b)]
    bundle = json.loads(block_item.payload)
    block = bundle["block"]
    assert block_item.hash == block["hash"].lower()
    assert [tx["hash"].lower() for tx in block["transactions"]] == sent
    assert [r["transactionHash"].lower() for r in bundle["receipts"]] == sent
    assert all(r["status"] == "0x1" for r in bundle["receipts"])
    traced = {t["transactionHash"].lower() for t in bundle["traces"]}
    assert traced == set(sent), "Anvil has trace_block: one call frame per tx"

    normalized = normalize_item(block_item)
    assert len(normalized) == 1 and isinstance(normalized[0], Block), normalized
    assert [tx.hash for tx in normalized[0].txs] == sent
    assert len(normalized[0].receipts) == 3 and len(normalized[0].traces) == 3

    by_tx = {r.tx_hash: r for r in run.inclusions}
    assert set(by_tx) == set(sent)
    pending_seen = {x.hash: x.seen_ms for x in run.items("tx")}
    for tx_hash, record in by_tx.items():
        assert record.status == "included"
        assert record.block_hash == block_item.hash
        assert record.block_number == int(block["number"], 16)
        assert record.first_seen_ms == pending_seen[tx_hash]
        assert record.latency_ms == block_item.seen_ms - pending_seen[tx_hash]
        assert record.latency_ms is not None and record.latency_ms >= 200


def test_a_reorg_marks_the_replaced_blocks_txs_as_reorged(anvil_nodes: StartAnvil) -> None:
    node = anvil_nodes(CHAIN)
    endpoint = ws(node)
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        sent = [send(node, tx_of_type(2, i, 500 + i)) for i in range(2)]
        wait_until(lambda: set(run.tx_hashes()) >= set(sent), what="the pending txs")
        node.rpc("evm_mine")
        wait_until(lambda: len(run.inclusions) >= 2, what="the inclusions")
        node.rpc("anvil_reorg", 1, [])  # replaces the block holding them with an empty one
        wait_until(lambda: len(run.items("block")) >= 2, what="the replacing block")
        wait_until(lambda: len(run.inclusions) >= 4, what="the reorg records")

    old, new = run.items("block")
    assert json.loads(old.payload)["block"]["number"] == json.loads(new.payload)["block"]["number"]
    assert old.hash != new.hash
    statuses = sorted((r.status, r.tx_hash, r.block_hash) for r in run.inclusions)
    assert statuses == sorted(
        [("included", h, old.hash) for h in sent] + [("reorged", h, old.hash) for h in sent]
    )


def _block_txs(item: RawItem) -> set[str]:
    return {tx["hash"].lower() for tx in json.loads(item.payload)["block"]["transactions"]}


@pytest.mark.parametrize("workers", [1, 2])
def test_two_urls_of_one_chain_deliver_each_tx_once(anvil_nodes: StartAnvil, workers: int) -> None:
    first, second = anvil_nodes(CHAIN), anvil_nodes(CHAIN)
    endpoints = [ws(first, 0), ws(second, 1)]
    key = DEV_KEYS[0]
    duplicates_before = tx_duplicates()
    with running(endpoints, workers=workers) as run:
        wait_until(lambda: all(map(connected, endpoints)), what="both URLs to connect")
        sent = []
        for i in range(5):
            signed = Account.sign_transaction({"chainId": CHAIN, **tx_of_type(2, i, i)}, key)
            raw = "0x" + signed.raw_transaction.hex()
            sent.append(first.rpc("eth_sendRawTransaction", raw).lower())
            second.rpc("eth_sendRawTransaction", raw)
        wait_until(
            lambda: tx_duplicates() - duplicates_before >= 5, what="both URLs to deliver every tx"
        )

    assert run.tx_hashes() == Counter({h: 1 for h in sent})
    firsts = {x.source for x in run.items("tx")}
    assert firsts <= {endpoints[0].name, endpoints[1].name}


def test_a_restarted_node_is_reconnected_without_loss_or_duplicates(
    anvil_nodes: StartAnvil,
) -> None:
    node = anvil_nodes(CHAIN)
    endpoint = ws(node)
    key = DEV_KEYS[0]
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        before_kill = [send(node, tx_of_type(2, i, 100 + i), key) for i in range(3)]
        wait_until(lambda: set(run.tx_hashes()) >= set(before_kill), what="txs before the kill")
        reconnects_before = reconnects()
        node.stop()
        wait_until(lambda: not connected(endpoint), what="the source to notice")
        time.sleep(1.0)  # a few failed reconnection attempts
        node.restart()  # same port, fresh chain
        wait_until(lambda: connected(endpoint), what="the source to reconnect")
        # A fresh chain restarts nonces: other values keep these hashes distinct.
        after_restart = [send(node, tx_of_type(2, i, 200 + i), key) for i in range(5)]
        wait_until(lambda: set(run.tx_hashes()) >= set(after_restart), what="txs after restart")
        node.rpc("evm_mine")
        wait_until(lambda: len(run.items("block")) >= 1, what="a block after restart")
        time.sleep(0.5)

    assert reconnects() - reconnects_before >= 2
    counts = run.tx_hashes()
    assert all(n == 1 for n in counts.values()), f"duplicates: {counts}"
    assert set(counts) == set(before_kill) | set(after_restart)
    assert _block_txs(run.items("block")[-1]) == set(after_restart)


def test_txs_pending_before_the_source_subscribed_are_read_from_the_pool(
    anvil_nodes: StartAnvil,
) -> None:
    """A subscription announces only later arrivals; what the node already holds (sent while
    the source was away) comes from ``txpool_content`` read after subscribing."""
    node = anvil_nodes(CHAIN)
    endpoint = ws(node)
    waiting = [send(node, tx_of_type(2, i, 300 + i), DEV_KEYS[0]) for i in range(3)]
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        later = send(node, tx_of_type(2, 3, 303), DEV_KEYS[0])
        wait_until(lambda: set(run.tx_hashes()) >= {*waiting, later}, what="pool and new txs")
        time.sleep(0.5)  # a second copy (pool read and subscription overlap) would be here now
    assert run.tx_hashes() == Counter({h: 1 for h in [*waiting, later]})
    assert not run.letters()


def test_hash_only_subscriptions_fetch_tx_objects_in_batches(anvil_nodes: StartAnvil) -> None:
    node = anvil_nodes(CHAIN)
    endpoint = ws(node)
    with running([endpoint], replace(FAST, pending_tx_objects=False)) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        before = time.time_ns() // 1_000_000
        sent = [send(node, tx_of_type(2, i, 400 + i)) for i in range(20)]
        wait_until(lambda: set(run.tx_hashes()) >= set(sent), what="fetched tx objects")
        after = time.time_ns() // 1_000_000

    assert run.tx_hashes() == Counter({h: 1 for h in sent})
    for item in run.items("tx"):
        tx = json.loads(item.payload)
        assert item.hash == tx["hash"].lower()
        assert int(tx["value"], 16) == 400 + int(tx["nonce"], 16)
        # seen_ms is when the hash was announced, not when the object was fetched
        assert before <= item.seen_ms <= after


def test_a_connection_without_new_heads_is_reopened(anvil_nodes: StartAnvil) -> None:
    node = anvil_nodes(CHAIN)  # not mining: no heads at all
    endpoint = ws(node)
    before = reconnects()
    with running([endpoint], replace(FAST, head_stall_s=1.0)) as run:
        wait_until(lambda: reconnects() - before >= 2, what="reconnections of a stalled socket")
        wait_until(lambda: connected(endpoint), what="the source to connect again")
        sent = send(node, tx_of_type(2, 0, 700))
        wait_until(lambda: sent in run.tx_hashes(), what="a tx after the reconnections")
    assert not run.letters()


def test_http_url_is_polled_for_pending_txs_and_blocks(anvil_nodes: StartAnvil) -> None:
    node = anvil_nodes(CHAIN)
    endpoint = Endpoint(CHAIN, node.http_url)
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the HTTP endpoint")
        time.sleep(0.5)  # the pending filter exists before the txs are sent
        sent = [send(node, tx_of_type(0, i, 300 + i)) for i in range(3)]
        wait_until(lambda: set(run.tx_hashes()) >= set(sent), what="polled pending txs")
        node.rpc("evm_mine")
        wait_until(lambda: len(run.inclusions) >= 3, what="inclusion via polled blocks")

    assert run.tx_hashes() == Counter({h: 1 for h in sent})
    assert all(x.source == f"rpc:{CHAIN}:{node.http_url}" for x in run.items("tx"))
    assert {r.tx_hash for r in run.inclusions if r.status == "included"} == set(sent)


# --- a node that misbehaves -------------------------------------------------------------------

GOOD_TX = {
    "hash": "0x" + "ab" * 32,
    "type": "0x2",
    "from": "0x" + "11" * 20,
    "to": RECIPIENT,
    "nonce": "0x0",
    "value": "0x1",
}


class BadNode(LocalWsServer):
    """A websocket JSON-RPC server that answers eth_chainId with ``chain_id`` and, once
    subscribed, sends a non-JSON frame, a JSON frame that is not JSON-RPC, a good pending tx,
    and (on its first connection only) a frame larger than the client accepts."""

    def __init__(self, chain_id: int, oversize: int) -> None:
        super().__init__()
        self.chain_id = chain_id
        self.oversize = oversize
        self.connections = 0

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections += 1
        first = self.connections == 1
        subscriptions = 0
        async for frame in conn:
            request = json.loads(frame)
            method, rid = request["method"], request["id"]
            if method == "eth_chainId":
                await conn.send(
                    json.dumps({"jsonrpc": "2.0", "id": rid, "result": hex(self.chain_id)})
                )
            elif method == "eth_subscribe":
                subscriptions += 1
                sub = f"0x{subscriptions:032x}"
                await conn.send(json.dumps({"jsonrpc": "2.0", "id": rid, "result": sub}))
                if request["params"][0] == "newPendingTransactions":
                    await self._misbehave(conn, sub, first)
            else:
                error = {"code": -32601, "message": f"the method {method} does not exist"}
                await conn.send(json.dumps({"jsonrpc": "2.0", "id": rid, "error": error}))

    async def _misbehave(self, conn: ServerConnection, sub: str, first: bool) -> None:
        await conn.send("this is not json {")
        await conn.send(json.dumps({"hello": "world", "id": None}))
        tx = {**GOOD_TX, "nonce": "0x0" if first else "0x1"}
        tx["hash"] = "0x" + ("ab" if first else "cd") * 32
        note = {"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": sub}}
        note["params"]["result"] = tx  # type: ignore[index]
        await conn.send(json.dumps(note))
        if first:
            await conn.send("x" * self.oversize)


def test_garbage_and_oversize_frames_become_dead_letters_and_the_source_goes_on() -> None:
    cfg = replace(FAST, max_frame_bytes=64 * 1024)
    with BadNode(CHAIN, oversize=200 * 1024) as bad:
        endpoint = Endpoint(CHAIN, bad.url)
        garbage_before, oversize_before = errors("garbage frame"), errors("oversize frame")
        with running([endpoint], cfg) as run:
            # The good tx of the second connection proves the source re-opened after the oversize.
            wait_until(lambda: len(run.items("tx")) >= 2, what="good txs around the bad frames")
            time.sleep(0.3)

    reasons = [x.reason for x in run.letters()]
    assert sum(r.startswith("garbage frame: ") for r in reasons) >= 4  # 2 per connection
    assert any(r.startswith("oversize frame: over max_frame_bytes=65536") for r in reasons)
    assert any(x.payload == "this is not json {" for x in run.letters())
    assert all(x.stage == "source.rpc" and x.source == endpoint.name for x in run.letters())
    assert run.tx_hashes() == Counter({"0x" + "ab" * 32: 1, "0x" + "cd" * 32: 1})
    assert errors("garbage frame") - garbage_before >= 4
    assert errors("oversize frame") - oversize_before >= 1


def test_a_node_on_the_wrong_chain_is_refused_and_retried() -> None:
    with BadNode(chain_id=1, oversize=0) as wrong:
        endpoint = Endpoint(CHAIN, wrong.url)
        with running([endpoint]) as run:
            wait_until(lambda: len(run.letters()) >= 2, what="repeated refusals")

    assert not run.items("tx"), "nothing is ingested from a node on another chain"
    for letter in run.letters():
        assert letter.reason.startswith("wrong chain id: ")
        assert "'0x1'" in letter.reason and f"chain {CHAIN}" in letter.reason
        assert letter.chain_id == CHAIN
    assert wrong.connections >= 2


class LimitedNode(LocalWsServer):
    """A websocket proxy in front of a real Anvil node that answers "method not found" for
    ``hidden`` methods (and for full-object pending subscriptions), like a node offering less."""

    def __init__(self, upstream: str, hidden: set[str]) -> None:
        super().__init__()
        self.upstream = upstream
        self.hidden = hidden
        self.refused: Counter[str] = Counter()

    def _refuses(self, request: Any) -> bool:
        if not isinstance(request, dict):
            return False
        method, params = request.get("method"), request.get("params") or []
        full_objects = method == "eth_subscribe" and params[1:] == [True]
        return method in self.hidden or full_objects

    async def _handle(self, client: ServerConnection) -> None:
        async with connect(self.upstream, max_size=None) as node:

            async def downstream() -> None:
                async for frame in node:
                    await client.send(frame)

            relay = asyncio.create_task(downstream())
            try:
                async for frame in client:
                    request = json.loads(frame)
                    if self._refuses(request):
                        self.refused[request["method"]] += 1
                        error = {"code": -32601, "message": "the method does not exist"}
                        reply = {"jsonrpc": "2.0", "id": request["id"], "error": error}
                        await client.send(json.dumps(reply))
                    else:
                        await node.send(frame)
            finally:
                relay.cancel()


def test_a_node_without_block_receipts_traces_or_full_objects_still_yields_everything(
    anvil_nodes: StartAnvil,
) -> None:
    node = anvil_nodes(CHAIN)
    with LimitedNode(node.ws_url, {"eth_getBlockReceipts", "trace_block"}) as limited:
        endpoint = Endpoint(CHAIN, limited.url)
        with running([endpoint]) as run:
            wait_until(lambda: connected(endpoint), what="the source to connect")
            sent = [send(node, tx_of_type(2, i, 600 + i)) for i in range(3)]
            wait_until(lambda: set(run.tx_hashes()) >= set(sent), what="txs fetched by hash")
            node.rpc("evm_mine")
            wait_until(lambda: len(run.items("block")) == 1, what="the block")
            sent.append(send(node, tx_of_type(2, 3, 603)))
            node.rpc("evm_mine")
            wait_until(lambda: len(run.items("block")) == 2, what="a second block")

    first_block, second_block = (json.loads(b.payload) for b in run.items("block"))
    receipts = [r["transactionHash"].lower() for r in first_block["receipts"]]
    assert receipts == sent[:3], "receipts fetched per tx, in block order"
    assert first_block["traces"] == [] and second_block["traces"] == []
    assert [r["transactionHash"].lower() for r in second_block["receipts"]] == sent[3:]
    # Each missing feature was tried once, then no more.
    assert limited.refused == Counter(
        {"eth_subscribe": 1, "eth_getBlockReceipts": 1, "trace_block": 1}
    )
    assert not run.letters()
