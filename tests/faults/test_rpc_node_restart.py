"""Fault (d): the Anvil node behind a subscribed RPC source restarts while txs keep coming.

The RPC source (``RpcSource`` → the flow's dedup step, as in tests/connectors/test_rpc.py) is
subscribed to one Anvil node. A sender thread signs and sends a tx every ``SEND_EVERY_S``
before, during and after the restart: sends that fail while the node is down are "refused"; the
first sends after the restart reach the node before the source has reconnected and
re-subscribed. Anvil restarts with a fresh chain (it keeps no state), so nonces start again.

What "lost" means here. The source can only report what a node offers, so a tx counts as lost
when the node accepted it (answered its hash) and Scorpius never emitted it:

- sent before the stop: the node held it while the source was subscribed;
- sent after the restart: the node holds it (nothing is mined) from then on, including the
  moments before the source has re-subscribed, which the source must make up for on reconnect;
- pending across the restart: a tx the node held when it went down is gone from the fresh
  node's pool, and was emitted before the stop. The network brings such txs back (peers
  re-gossip them, wallets re-broadcast): the test re-sends the same signed bytes to the restarted
  node. It must come out exactly once: its second sighting is a duplicate the dedup step drops.

Refused sends are neither expected nor allowed to show up. Duplicated: a hash emitted twice after
the dedup step (before it, re-sightings are counted by ``scorpius_source_duplicates``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field

import pytest
from eth_account import Account

from tests.connectors.test_rpc import (
    CHAIN,
    connected,
    running,
    tx_duplicates,
    tx_of_type,
    wait_until,
    ws,
)
from tests.faults.accounting import tally
from tests.services.anvil import DEV_KEYS, AnvilNode, StartAnvil

pytestmark = [pytest.mark.service, pytest.mark.slow, pytest.mark.fault]

SEND_EVERY_S = 0.05
ACROSS_RESTART = 5


@dataclass
class Sender:
    """Sends a tx every ``SEND_EVERY_S`` from one key until stopped; remembers the outcome."""

    node: AnvilNode
    key: str
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _send_one(self, value: int) -> None:
        nonce = int(
            self.node.rpc("eth_getTransactionCount", Account.from_key(self.key).address, "pending"),
            16,
        )
        # A fresh chain restarts nonces: the value keeps every hash distinct.
        signed = Account.sign_transaction(
            {"chainId": CHAIN, **tx_of_type(2, nonce, value)}, self.key
        )
        tx_hash = "0x" + signed.hash.hex().removeprefix("0x").lower()
        try:
            self.node.rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
        except Exception:
            self.refused.append(tx_hash)
            return
        self.accepted.append(tx_hash)

    def run(self) -> None:
        value = 1_000_000
        while not self.stop.is_set():
            value += 1
            with contextlib.suppress(Exception):  # down: not even the nonce could be read
                self._send_one(value)
            self.stop.wait(SEND_EVERY_S)


def test_a_restarted_node_loses_no_pending_tx_it_offered(anvil_nodes: StartAnvil) -> None:
    node = anvil_nodes(CHAIN)
    endpoint = ws(node)
    sender = Sender(node, DEV_KEYS[0])
    thread = threading.Thread(target=sender.run, daemon=True)
    duplicates_before = tx_duplicates()
    with running([endpoint]) as run:
        wait_until(lambda: connected(endpoint), what="the source to connect")
        # Txs pending when the node goes down, from another account (nonces of their own).
        pending_key = DEV_KEYS[1]
        raws = []
        for i in range(ACROSS_RESTART):
            signed = Account.sign_transaction(
                {"chainId": CHAIN, **tx_of_type(2, i, 500 + i)}, pending_key
            )
            raws.append("0x" + signed.raw_transaction.hex())
        across = [node.rpc("eth_sendRawTransaction", raw).lower() for raw in raws]
        thread.start()
        wait_until(lambda: len(sender.accepted) >= 20, what="txs before the restart")
        sent_before_stop = len(sender.accepted)
        node.stop()
        wait_until(lambda: not connected(endpoint), what="the source to notice")
        node.start()  # same port, fresh chain: the pending pool is gone
        restarted_at = len(sender.accepted)
        for raw in raws:  # what the network re-gossips to a node that comes back
            node.rpc("eth_sendRawTransaction", raw)
        wait_until(lambda: connected(endpoint), what="the source to reconnect")
        in_the_gap = len(sender.accepted) - restarted_at  # sent before the re-subscription
        wait_until(lambda: len(sender.accepted) >= restarted_at + 20, what="txs after restart")
        sender.stop.set()
        thread.join(timeout=10)
        expected = [*across, *sender.accepted]
        with contextlib.suppress(AssertionError):  # what is missing is reported as lost below
            wait_until(lambda: set(run.tx_hashes()) >= set(expected), what="every accepted tx")
        node.rpc("evm_mine")
        wait_until(lambda: len(run.items("block")) >= 1, what="the block after the restart")

    emitted = run.tx_hashes()
    refused_but_emitted = set(sender.refused) & set(emitted)
    print(
        f"\n{sent_before_stop} txs sent before the stop, {restarted_at - sent_before_stop} "
        f"while it restarted, {len(sender.accepted) - restarted_at} after the restart ({in_the_gap} of "
        f"them and the {ACROSS_RESTART} re-sent before the source had re-subscribed); "
        f"{len(sender.refused)} refused while the node was down; the dedup step dropped {tx_duplicates() - duplicates_before:.0f} "
        "re-sightings"
    )
    assert not refused_but_emitted, f"emitted txs the node refused: {refused_but_emitted}"
    # The restarted node mined what it was given after the restart (a send that raced the
    # restart may be in either chain): every one of them was seen pending.
    (block,) = run.items("block")
    mined = {tx["hash"].lower() for tx in json.loads(block.payload)["block"]["transactions"]}
    assert set(across) | set(sender.accepted[restarted_at:]) <= mined <= set(expected)
    tally("rpc node restart", expected, list(emitted.elements())).report_and_check()
    assert tx_duplicates() - duplicates_before >= ACROSS_RESTART  # the re-gossiped copies
