"""A real Anvil node driven the way the protocol tests need: deploy published bytecode, call
functions from any of the node's accounts, and read a mined block back through the flow's
normalizer (body, receipts and ``trace_block`` bundled as the RPC source bundles them)."""

from __future__ import annotations

import json
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from operators.normalize import normalize_item
from operators.records import Block, RawItem
from tests.services.anvil import AnvilNode


class Chain:
    def __init__(self, node: AnvilNode) -> None:
        self.node = node
        self.accounts: list[str] = [a.lower() for a in node.rpc("eth_accounts")]
        self.account: str = self.accounts[0]

    def send(self, to: str | None, data: bytes, sender: str | None = None) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "from": sender or self.account,
            "data": "0x" + data.hex(),
            "gas": hex(15_000_000),
        }
        if to is not None:
            tx["to"] = to
        tx_hash = self.node.rpc("eth_sendTransaction", tx)
        self.node.rpc("evm_mine")
        receipt: dict[str, Any] = self.node.rpc("eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x1", receipt
        return receipt

    def deploy(self, code: bytes, types: list[str], args: list[Any]) -> str:
        address: str = self.send(None, code + encode(types, args))["contractAddress"]
        return address.lower()

    def call(
        self,
        to: str,
        signature: str,
        types: list[str],
        args: list[Any],
        sender: str | None = None,
    ) -> dict[str, Any]:
        selector = function_signature_to_4byte_selector(signature)
        return self.send(to, selector + encode(types, args), sender)

    def block(self, number: int) -> Block:
        tag = hex(number)
        body = self.node.rpc("eth_getBlockByNumber", tag, True)
        receipts = self.node.rpc("eth_getBlockReceipts", tag)
        traces = self.node.rpc("trace_block", tag)
        payload = json.dumps({"block": body, "receipts": receipts, "traces": traces}).encode()
        [block] = normalize_item(RawItem("block", self.node.chain_id, "anvil", 0, payload))
        assert isinstance(block, Block)
        return block
