"""Real mainnet transactions as ``Tx`` records for the enrich tests, and an independent reading
of their calldata (``Calldata``, which knows nothing of eth-abi): the expected values of
tests/operators/test_enrich*.py come from here, the receipts' logs or the routers' traces, never
from the code under test. Methods without a real sample use calldata built with
``eth_abi.encode`` and say so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eth_abi import encode

from operators.records import EnrichedTx, Swap, Tx

DATA = Path(__file__).resolve().parent.parent / "data" / "enrich"
CHAIN_SAMPLES = json.loads((DATA / "chain_sample_txs.json").read_text())
MEV_CALLS = json.loads((DATA / "mev_fixture_calls.json").read_text())

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
APPROVAL_TOPIC = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
V2_ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
SUSHI_ROUTER = "0xd9e1ce17f2641f24ae83637ab66a2cca9c378b9f"
V3_ROUTER = "0xe592427a0aece92de3edee1f18e0157c05861564"
ROUTER02 = "0x68b3465833fb72a70ecdf485e0e4c7bd8665fc45"
UNIVERSAL_ROUTER = "0x3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
DAI = "0x6b175474e89094c44da98b954eedeac495271d0f"
ALICE = "0x00000000000000000000000000000000000a11ce"


# --- an independent reading of calldata ---------------------------------------------------------


class Calldata:
    """Raw 32-byte words of ABI calldata, read by offset (no ABI library involved)."""

    def __init__(self, hex_input: str) -> None:
        self.raw = bytes.fromhex(hex_input[2:])
        self.selector = "0x" + self.raw[:4].hex()
        self.body = self.raw[4:]

    def word(self, index: int, base: int = 0) -> int:
        start = base + 32 * index
        return int.from_bytes(self.body[start : start + 32], "big")

    def address(self, index: int, base: int = 0) -> str:
        return "0x" + self.body[base + 32 * index + 12 : base + 32 * index + 32].hex()

    def address_array(self, index: int, base: int = 0) -> tuple[str, ...]:
        at = base + self.word(index, base)
        count = int.from_bytes(self.body[at : at + 32], "big")
        return tuple(
            "0x" + self.body[at + 32 * (i + 1) + 12 : at + 32 * (i + 2)].hex() for i in range(count)
        )

    def bytes_at(self, index: int, base: int = 0) -> bytes:
        at = base + self.word(index, base)
        size = int.from_bytes(self.body[at : at + 32], "big")
        return self.body[at + 32 : at + 32 + size]

    def bytes_array(self, index: int, base: int = 0) -> list[bytes]:
        at = base + self.word(index, base)
        count = int.from_bytes(self.body[at : at + 32], "big")
        items = []
        for i in range(count):
            item_at = (
                at + 32 + int.from_bytes(self.body[at + 32 * (i + 1) : at + 32 * (i + 2)], "big")
            )
            size = int.from_bytes(self.body[item_at : item_at + 32], "big")
            items.append(self.body[item_at + 32 : item_at + 32 + size])
        return items


def packed_tokens(path: bytes) -> tuple[tuple[str, ...], tuple[int, ...]]:
    tokens = tuple("0x" + path[i : i + 20].hex() for i in range(0, len(path), 23))
    fees = tuple(int.from_bytes(path[i : i + 3], "big") for i in range(20, len(path), 23))
    return tokens, fees


# --- real transactions as Tx records --------------------------------------------------------------


def _q(value: str | None) -> int:
    return int(value, 16) if value else 0


def rpc_tx(obj: dict[str, Any]) -> Tx:
    """A minimal JSON-RPC tx object → Tx conversion (the normalizer's job, kept tiny here)."""
    data = obj.get("input") or "0x"
    chain = obj.get("chainId")
    return Tx(
        chain_id=_q(chain) if chain else (10 if obj.get("type") == "0x7e" else 1),
        hash=obj["hash"],
        sender=obj["from"].lower(),
        to=obj["to"].lower() if obj.get("to") else None,
        nonce=_q(obj.get("nonce")),
        value=_q(obj.get("value")),
        gas=_q(obj.get("gas")),
        tx_type=_q(obj.get("type")),
        input=data,
        selector=data[:10].lower() if len(data) >= 10 else None,
        first_seen_ms=0,
        source="test",
    )


def trace_tx(call: dict[str, Any]) -> Tx:
    action = call["traces"][0]["action"]
    data = action["input"]
    return Tx(
        chain_id=1,
        hash=call["traces"][0]["transaction_hash"],
        sender=action["from"],
        to=action["to"],
        nonce=None,
        value=int(action["value"], 16),
        gas=int(action["gas"], 16),
        tx_type=0,
        input=data,
        selector=data[:10],
        first_seen_ms=0,
        source="test",
    )


def samples(*selectors: str) -> Iterator[tuple[Tx, dict[str, Any] | None]]:
    """Chain-sample txs calling one of ``selectors`` with a full argument block."""
    for entry in CHAIN_SAMPLES:
        tx = rpc_tx(entry["tx"])
        if tx.selector in selectors and len(tx.input) > 10:
            yield tx, entry.get("receipt")


def sample(tx_hash: str) -> tuple[Tx, dict[str, Any] | None]:
    for entry in CHAIN_SAMPLES:
        if entry["tx"]["hash"] == tx_hash:
            return rpc_tx(entry["tx"]), entry.get("receipt")
    raise KeyError(tx_hash)


def traced(*selectors: str) -> Iterator[tuple[Tx, list[dict[str, Any]]]]:
    for call in MEV_CALLS:
        tx = trace_tx(call)
        if tx.selector in selectors:
            yield tx, call["traces"]


def logs(receipt: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return [log for log in receipt["logs"] if log["topics"] and log["topics"][0] == topic]


def topic_address(topic: str) -> str:
    return "0x" + topic[-40:]


def make_tx(to: str | None, data: str, value: int = 0, sender: str = ALICE, **kw: Any) -> Tx:
    return Tx(
        chain_id=kw.pop("chain_id", 1),
        hash="0x" + "ab" * 32,
        sender=sender,
        to=to,
        nonce=0,
        value=value,
        gas=300_000,
        tx_type=kw.pop("tx_type", 2),
        input=data,
        selector=data[:10] if len(data) >= 10 else None,
        first_seen_ms=0,
        source="test",
        **kw,
    )


def calldata(selector: str, types: list[str], values: list[Any]) -> str:
    return selector + encode(types, values).hex()


def the_swap(etx: EnrichedTx) -> Swap:
    assert etx.kind == "swap"
    assert len(etx.swaps) == 1, etx.swaps
    return etx.swaps[0]


# selector → (exact input, ETH in, argument index of: amount, bound, path, to, deadline)
V2_LAYOUT: dict[str, tuple[bool, bool, int | None, int, int, int, int]] = {
    "0x38ed1739": (True, False, 0, 1, 2, 3, 4),  # swapExactTokensForTokens
    "0x8803dbee": (False, False, 0, 1, 2, 3, 4),  # swapTokensForExactTokens
    "0x7ff36ab5": (True, True, None, 0, 1, 2, 3),  # swapExactETHForTokens
    "0x4a25d94a": (False, False, 0, 1, 2, 3, 4),  # swapTokensForExactETH
    "0x18cbafe5": (True, False, 0, 1, 2, 3, 4),  # swapExactTokensForETH
    "0xfb3bdb41": (False, True, 0, -1, 1, 2, 3),  # swapETHForExactTokens
    "0x5c11d795": (True, False, 0, 1, 2, 3, 4),  # ...SupportingFeeOnTransferTokens
    "0xb6f9de95": (True, True, None, 0, 1, 2, 3),
    "0x791ac947": (True, False, 0, 1, 2, 3, 4),
}
