"""The lab's handle on its Anvil node: transactions sent from any address (Anvil impersonates
the population's accounts, so thousands of senders cost no key signing), calls, mining."""

from __future__ import annotations

from typing import Any

import requests
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from bench.testbed import AnvilNode

GWEI = 10**9
# Every tx's fee cap is this plus its tip: Anvil orders a block by fee cap, builders by tip, and
# moving the cap with the tip makes both orders the same (fee first, then arrival).
FEE_CAP_BASE = 100 * GWEI


def calldata(signature: str, *args: Any) -> str:
    """ABI calldata of ``name(type,...)`` (tuple types spelled ``(t1,t2)``)."""
    types = _split(signature[signature.index("(") + 1 : -1])
    return (
        "0x" + (function_signature_to_4byte_selector(signature) + encode(types, list(args))).hex()
    )


def _split(types: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(types):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(types[start:i])
            start = i + 1
    if types[start:]:
        out.append(types[start:])
    return out


class LabNode:
    def __init__(self, node: AnvilNode) -> None:
        self.node = node
        self.chain_id = node.chain_id
        self._http = requests.Session()
        self._ids = 0
        self.nonces: dict[str, int] = {}

    def rpc(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": self._ids,
            "method": method,
            "params": list(params),
        }
        reply = self._http.post(self.node.http_url, json=body, timeout=60).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def prepare(self, accounts: list[str], wei: int = 10**24) -> None:
        self.rpc("anvil_autoImpersonateAccount", True)
        self.rpc("evm_setBlockGasLimit", hex(120_000_000))
        for account in accounts:
            self.rpc("anvil_setBalance", account, hex(wei))

    def next_nonce(self, sender: str) -> int:
        nonce = self.nonces.get(sender)
        if nonce is None:
            nonce = int(self.rpc("eth_getTransactionCount", sender, "pending"), 16)
        self.nonces[sender] = nonce + 1
        return nonce

    def send(
        self,
        sender: str,
        to: str | None,
        data: str = "0x",
        *,
        tip: int = GWEI,
        gas: int = 400_000,
        value: int = 0,
        nonce: int | None = None,
        fee_cap: int | None = None,
    ) -> str:
        tx: dict[str, Any] = {
            "from": sender,
            "nonce": hex(self.next_nonce(sender) if nonce is None else nonce),
            "gas": hex(gas),
            "maxFeePerGas": hex(FEE_CAP_BASE + tip if fee_cap is None else fee_cap),
            "maxPriorityFeePerGas": hex(tip),
            "value": hex(value),
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        tx_hash: str = self.rpc("eth_sendTransaction", tx)
        return tx_hash.lower()

    def mine(self) -> int:
        self.rpc("evm_mine")
        return self.block_number()

    def mine_all(self) -> None:
        """Mines until nothing is pending (set-up blocks)."""
        while True:
            self.mine()
            status = self.rpc("txpool_status")
            if int(status["pending"], 16) == 0:
                return

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        receipt: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", tx_hash)
        return receipt

    def deploy(self, sender: str, creation: str, types: list[str], args: list[Any]) -> str:
        code = creation if creation.startswith("0x") else "0x" + creation
        tx_hash = self.send(sender, None, code + encode(types, args).hex(), gas=15_000_000)
        self.mine()
        receipt = self.receipt(tx_hash)
        assert receipt is not None and receipt["status"] == "0x1", f"deploy failed: {receipt}"
        return str(receipt["contractAddress"]).lower()

    def transact(
        self, sender: str, to: str, signature: str, *args: Any, gas: int = 6_000_000
    ) -> str:
        return self.send(sender, to, calldata(signature, *args), gas=gas)

    def call(self, to: str, signature: str, out: list[str], *args: Any) -> Any:
        result = self.rpc("eth_call", {"to": to, "data": calldata(signature, *args)}, "latest")
        return decode(out, bytes.fromhex(result[2:]))
