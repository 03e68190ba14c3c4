"""operators.enrich on real mainnet calldata.

Expected values never come from the code under test: they are read from the raw 32-byte words of
the calldata by hand (``Calldata`` below, which knows nothing of eth-abi), from the receipt logs
the transaction emitted, or from the calls the router made (Parity traces). Methods without a
real sample use calldata built with ``eth_abi.encode`` and say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.config import load_config
from operators.enrich import DEFAULT_ENRICHER, Enricher, enrich
from operators.enrich.labels import LabelFileError, load_labels
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


# --- ERC-20 ----------------------------------------------------------------------------------------


def test_sample_set_covers_every_real_method() -> None:
    selectors = {rpc_tx(e["tx"]).selector for e in CHAIN_SAMPLES} | {
        trace_tx(c).selector for c in MEV_CALLS
    }
    assert {"0xa9059cbb", "0x095ea7b3", "0x23b872dd", "0x38ed1739", "0x7ff36ab5", "0x18cbafe5"} <= (
        selectors
    )
    assert {"0x414bf389", "0xc04b8d59", "0x5ae401dc", "0xac9650d8", "0x04e45aaf"} <= selectors
    assert {"0xb858183f", "0x3593564c", "0x4a25d94a", "0xdb3e2198", "0x472b43f3"} <= selectors


def test_erc20_transfer_matches_calldata_and_transfer_log() -> None:
    checked_logs = 0
    cases = list(samples("0xa9059cbb"))
    assert len(cases) >= 3
    for tx, receipt in cases:
        etx = enrich(tx)
        raw = Calldata(tx.input)
        assert etx.kind == "token_transfer"
        assert etx.call is not None and etx.call.method == "transfer"
        assert (etx.token, etx.counterparty, etx.token_amount) == (
            tx.to,
            raw.address(0),
            raw.word(1),
        )
        if receipt is not None and receipt["status"] == "0x1":
            (log,) = [g for g in logs(receipt, TRANSFER_TOPIC) if g["address"].lower() == tx.to]
            assert topic_address(log["topics"][1]) == tx.sender
            assert topic_address(log["topics"][2]) == etx.counterparty
            assert int(log["data"], 16) == etx.token_amount
            checked_logs += 1
    assert checked_logs >= 1


def test_erc20_approve_matches_calldata_and_approval_log() -> None:
    checked_logs = 0
    for tx, receipt in samples("0x095ea7b3"):
        etx = enrich(tx)
        raw = Calldata(tx.input)
        assert etx.kind == "approval"
        assert (etx.token, etx.counterparty, etx.token_amount) == (
            tx.to,
            raw.address(0),
            raw.word(1),
        )
        if receipt is not None and receipt["status"] == "0x1":
            (log,) = [g for g in logs(receipt, APPROVAL_TOPIC) if g["address"].lower() == tx.to]
            assert topic_address(log["topics"][1]) == tx.sender
            assert topic_address(log["topics"][2]) == etx.counterparty
            assert int(log["data"], 16) == etx.token_amount
            checked_logs += 1
    assert checked_logs >= 1


def test_erc20_transfer_from_matches_calldata_and_transfer_log() -> None:
    cases = list(samples("0x23b872dd"))
    assert cases
    for tx, receipt in cases:
        etx = enrich(tx)
        raw = Calldata(tx.input)
        assert etx.kind == "token_transfer"
        assert etx.call is not None and etx.call.args["from"] == raw.address(0)
        assert (etx.counterparty, etx.token_amount) == (raw.address(1), raw.word(2))
        if receipt is not None and receipt["status"] == "0x1":
            transfers = [g for g in logs(receipt, TRANSFER_TOPIC) if g["address"].lower() == tx.to]
            assert [
                (topic_address(g["topics"][1]), topic_address(g["topics"][2]), int(g["data"], 16))
                for g in transfers
            ] == [(raw.address(0), etx.counterparty, etx.token_amount)]


def test_set_approval_for_all_and_permit_are_approvals() -> None:
    (tx, _), *_ = samples("0xa22cb465")
    etx = enrich(tx)
    raw = Calldata(tx.input)
    assert etx.kind == "approval"
    assert (etx.counterparty, etx.token_amount) == (raw.address(0), None)
    assert etx.call is not None and etx.call.args["approved"] is bool(raw.word(1))

    (tx, _), *_ = samples("0xd505accf")  # a real Gnosis-chain permit
    etx = enrich(tx)
    raw = Calldata(tx.input)
    assert etx.kind == "approval"
    assert (etx.counterparty, etx.token_amount) == (raw.address(1), raw.word(2))
    assert etx.call is not None and etx.call.args["r"] == "0x" + raw.body[160:192].hex()


# --- Uniswap V2 Router02 ----------------------------------------------------------------------------

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


V2_NAMES = {
    "0x38ed1739": "swapExactTokensForTokens",
    "0x8803dbee": "swapTokensForExactTokens",
    "0x7ff36ab5": "swapExactETHForTokens",
    "0x4a25d94a": "swapTokensForExactETH",
    "0x18cbafe5": "swapExactTokensForETH",
    "0xfb3bdb41": "swapETHForExactTokens",
    "0x5c11d795": "swapExactTokensForTokensSupportingFeeOnTransferTokens",
    "0xb6f9de95": "swapExactETHForTokensSupportingFeeOnTransferTokens",
    "0x791ac947": "swapExactTokensForETHSupportingFeeOnTransferTokens",
}


def check_v2_swap(tx: Tx) -> Swap:
    assert tx.selector is not None
    exact_in, eth_in, amount_at, bound_at, path_at, to_at, deadline_at = V2_LAYOUT[tx.selector]
    raw = Calldata(tx.input)
    swap = the_swap(enrich(tx))
    assert swap.protocol == ("sushiswap" if tx.to == SUSHI_ROUTER else "uniswap_v2")
    assert swap.router == tx.to
    assert swap.path == raw.address_array(path_at)
    assert swap.exact_input is exact_in
    assert swap.recipient == raw.address(to_at)
    assert swap.deadline == raw.word(deadline_at)
    amount = tx.value if amount_at is None else raw.word(amount_at)
    bound = tx.value if bound_at == -1 else raw.word(bound_at)
    if exact_in:
        assert (swap.amount_in, swap.amount_out_min, swap.amount_out, swap.amount_in_max) == (
            amount,
            bound,
            None,
            None,
        )
    else:
        assert (swap.amount_out, swap.amount_in_max, swap.amount_in, swap.amount_out_min) == (
            amount,
            bound,
            None,
            None,
        )
    if tx.to in (V2_ROUTER, SUSHI_ROUTER):  # these routers' WETH: ETH in and out go through it
        assert not eth_in or swap.path[0] == WETH
        assert "ETH" not in V2_NAMES[tx.selector].split("For")[-1] or swap.path[-1] == WETH
    return swap


@pytest.mark.parametrize("selector", sorted(V2_LAYOUT))
def test_v2_router_swaps_match_calldata(selector: str) -> None:
    cases = [tx for tx, _ in samples(selector)] + [tx for tx, _ in traced(selector)]
    assert cases, f"no real sample of {selector}"
    for tx in cases:
        check_v2_swap(tx)


def test_v2_swaps_match_what_the_router_pulled_in_traces() -> None:
    """The router's first call moves path[0]: transferFrom(sender, pair, amountIn) or a WETH deposit."""
    checked = 0
    for tx, traces in traced(*V2_LAYOUT):
        swap = check_v2_swap(tx)
        children = [t["action"] for t in traces if len(t["trace_address"]) == 1]
        deposits = [c for c in children if c["to"] == WETH and c["input"] == "0xd0e30db0"]
        if deposits:
            assert swap.path[0] == WETH
            pulled = int(deposits[0]["value"], 16)  # deposit(): the ETH that went in
        else:
            pulled_call = next(
                t["action"]
                for t in traces
                if len(t["trace_address"]) == 1 and t["action"]["input"].startswith("0x23b872dd")
            )
            raw = Calldata(pulled_call["input"])
            assert pulled_call["to"] == swap.path[0]
            assert raw.address(0) == tx.sender
            pulled = raw.word(2)
        if swap.exact_input:
            assert pulled == swap.amount_in
        else:
            assert swap.amount_in_max is not None and pulled <= swap.amount_in_max
        checked += 1
    assert checked >= 8


def test_sushiswap_router_swaps_are_labelled_sushiswap() -> None:
    sushi = [tx for tx, _ in traced(*V2_LAYOUT) if tx.to == SUSHI_ROUTER]
    assert sushi
    for tx in sushi:
        etx = enrich(tx)
        assert etx.to_label == "SushiSwap: Router"
        assert the_swap(etx).protocol == "sushiswap"


def test_v2_swap_receipt_moves_the_decoded_path() -> None:
    checked = 0
    for tx, receipt in samples(*V2_LAYOUT):
        if receipt is None or receipt["status"] != "0x1":
            continue
        swap = check_v2_swap(tx)
        moved = {g["address"].lower() for g in logs(receipt, TRANSFER_TOPIC)}
        assert set(swap.path) <= moved | {WETH}
        out = [g for g in logs(receipt, TRANSFER_TOPIC) if g["address"].lower() == swap.path[-1]]
        assert swap.amount_out_min is None or max(int(g["data"], 16) for g in out) >= (
            swap.amount_out_min
        )
        checked += 1
    assert checked >= 3


# --- Uniswap V3 SwapRouter ------------------------------------------------------------------------


def pool_swap_calls(traces: list[dict[str, Any]]) -> list[Calldata]:
    """Calls the router made to pools: swap(recipient, zeroForOne, amountSpecified, limit, data)."""
    return [
        Calldata(t["action"]["input"])
        for t in traces
        if t["type"] == "call" and t["action"]["input"].startswith("0x128acb08")
    ]


def signed(word: int) -> int:
    return word - (1 << 256) if word >> 255 else word


def test_v3_exact_input_single_matches_calldata_and_pool_call() -> None:
    cases = list(traced("0x414bf389")) + [(tx, []) for tx, _ in samples("0x414bf389")]
    assert len(cases) >= 3
    for tx, traces in cases:
        raw = Calldata(tx.input)
        swap = the_swap(enrich(tx))
        assert swap.protocol == "uniswap_v3"
        assert swap.path == (raw.address(0), raw.address(1))
        assert swap.fees == (raw.word(2),)
        assert swap.deadline == raw.word(4)
        assert (swap.amount_in, swap.amount_out_min) == (raw.word(5), raw.word(6))
        assert swap.exact_input
        for pool_call in pool_swap_calls(traces):
            assert pool_call.address(0) == swap.recipient
            assert signed(pool_call.word(2)) == swap.amount_in


def test_v3_exact_input_packed_path_matches_pool_calls() -> None:
    cases = list(traced("0xc04b8d59"))
    assert cases
    for tx, traces in cases:
        raw = Calldata(tx.input)
        base = raw.word(0)  # the params tuple is dynamic: its head sits at this offset
        tokens, fees = packed_tokens(raw.bytes_at(0, base))
        swap = the_swap(enrich(tx))
        assert (swap.path, swap.fees) == (tokens, fees)
        assert len(swap.path) == len(swap.fees) + 1 >= 2
        assert swap.recipient == raw.address(1, base)
        assert swap.deadline == raw.word(2, base)
        assert (swap.amount_in, swap.amount_out_min) == (raw.word(3, base), raw.word(4, base))
        first_hop = pool_swap_calls(traces)[0]
        assert signed(first_hop.word(2)) == swap.amount_in


def test_v3_exact_output_single_matches_calldata_and_pool_call() -> None:
    cases = list(traced("0xdb3e2198"))
    assert cases
    for tx, traces in cases:
        raw = Calldata(tx.input)
        swap = the_swap(enrich(tx))
        assert swap.path == (raw.address(0), raw.address(1)) and not swap.exact_input
        assert (swap.amount_out, swap.amount_in_max) == (raw.word(5), raw.word(6))
        assert swap.amount_in is None and swap.amount_out_min is None
        assert swap.amount_out is not None
        (pool_call,) = pool_swap_calls(traces)
        assert signed(pool_call.word(2)) == -swap.amount_out  # exact output: negative amount


def test_v3_swap_router_multicall_collects_inner_swaps() -> None:
    cases = list(traced("0xac9650d8")) + [(tx, []) for tx, _ in samples("0xac9650d8")]
    with_swaps = 0
    for tx, traces in cases:
        etx = enrich(tx)
        inner = Calldata(tx.input).bytes_array(0)
        # A packed V3 path is 20 + 23k bytes; other routers reuse the selector with other paths.
        swap_calls = [
            c
            for c in inner
            if c[:4].hex() in ("414bf389", "db3e2198")
            or (
                c[:4].hex() == "c04b8d59"
                and (len(Calldata("0x" + c.hex()).bytes_at(0, 32)) - 20) % 23 == 0
            )
        ]
        assert len(etx.swaps) == len(swap_calls)
        for swap, call in zip(etx.swaps, swap_calls, strict=True):
            raw = Calldata("0x" + call.hex())
            if raw.selector in ("0x414bf389", "0xdb3e2198"):
                assert swap.path == (raw.address(0), raw.address(1))
                if raw.address(3) == "0x" + "00" * 20:
                    assert swap.recipient == tx.to  # address(0): the router keeps the output
        if traces and etx.swaps and len(etx.swaps) == 1:
            pool_call = pool_swap_calls(traces)[0]
            assert pool_call.address(0) == etx.swaps[0].recipient or len(etx.swaps[0].path) > 2
        with_swaps += bool(etx.swaps)
    assert with_swaps >= 3


# --- SwapRouter02 ---------------------------------------------------------------------------------


def test_router02_multicall_with_deadline_collects_every_inner_swap() -> None:
    cases = list(samples("0x5ae401dc"))
    assert len(cases) >= 5
    for tx, receipt in cases:
        raw = Calldata(tx.input)
        deadline = raw.word(0)
        inner = [Calldata("0x" + c.hex()) for c in raw.bytes_array(1)]
        expected: list[tuple[tuple[str, ...], int | None, int | None]] = []
        for call in inner:
            if call.selector == "0x472b43f3":  # swapExactTokensForTokens(in, outMin, path, to)
                expected.append((call.address_array(2), call.word(0) or None, call.word(1)))
            elif call.selector == "0x42712a67":  # swapTokensForExactTokens(out, inMax, path, to)
                expected.append((call.address_array(2), call.word(0), call.word(1)))
            elif call.selector in (
                "0x04e45aaf",
                "0x5023b4df",
            ):  # (in, out, fee, to, amt, bound, lim)
                expected.append(((call.address(0), call.address(1)), call.word(4), call.word(5)))
            elif call.selector in ("0xb858183f", "0x09b81346"):
                base = call.word(0)
                tokens, _ = packed_tokens(call.bytes_at(0, base))
                if call.selector == "0x09b81346":
                    tokens = tokens[::-1]
                expected.append((tokens, call.word(2, base) or None, call.word(3, base)))
        etx = enrich(tx)
        got = [
            (
                s.path,
                s.amount_in if s.exact_input else s.amount_out,
                s.amount_out_min if s.exact_input else s.amount_in_max,
            )
            for s in etx.swaps
        ]
        assert got == expected
        assert all(s.deadline == deadline for s in etx.swaps)
        assert all(
            s.recipient not in ("0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02") for s in etx.swaps
        )
        if receipt is not None and receipt["status"] == "0x1":
            moved = {g["address"].lower() for g in logs(receipt, TRANSFER_TOPIC)}
            assert all(set(s.path) <= moved for s in etx.swaps)


def test_router02_recipient_constants_resolve_to_sender_and_router() -> None:
    seen = set()
    for tx, _ in samples("0x5ae401dc"):
        for call in Calldata(tx.input).bytes_array(1):
            raw = Calldata("0x" + call.hex())
            if raw.selector == "0x472b43f3":
                seen.add(raw.address(3))
    assert {"0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02"} & seen  # real txs use the constants
    for tx, _ in samples("0x5ae401dc"):
        for swap in enrich(tx).swaps:
            assert swap.recipient != "0x" + "00" * 19 + "01"


@pytest.mark.parametrize(
    ("tx_hash", "selector"),
    [
        ("0xdeb87fc41e9b0bd0925a634a0639217e745825b9caa314deee7a746c1123b7d2", "0x5023b4df"),
        ("0x63161406b8e395f32347bfe3f305eff5e4bbaedec1d37b290521836d3a69d58d", "0x42712a67"),
        ("0x308eef96e67ab03a7bb0af6c9735d6a6fd3930a0a5cfb614b9909a581e6b9e20", "0xb858183f"),
    ],
)
def test_router02_exact_output_and_exact_input_inside_real_multicalls(
    tx_hash: str, selector: str
) -> None:
    tx, _ = sample(tx_hash)
    inner = [Calldata("0x" + c.hex()) for c in Calldata(tx.input).bytes_array(1)]
    (call,) = [c for c in inner if c.selector == selector]
    swaps = [s for s in enrich(tx).swaps if s.exact_input == (selector == "0xb858183f")]
    assert swaps
    swap = swaps[0]
    if selector == "0x5023b4df":
        assert swap.path == (call.address(0), call.address(1))
        assert (swap.amount_out, swap.amount_in_max) == (call.word(4), call.word(5))
        assert swap.fees == (call.word(2),)
    elif selector == "0x42712a67":
        assert swap.path == call.address_array(2)
        assert (swap.amount_out, swap.amount_in_max) == (call.word(0), call.word(1))
    else:
        base = call.word(0)
        assert (swap.path, swap.fees) == packed_tokens(call.bytes_at(0, base))
        assert swap.amount_out_min == call.word(3, base)


def test_router02_top_level_exact_input_single_and_exact_input() -> None:
    for selector in ("0x04e45aaf", "0xb858183f", "0x472b43f3"):
        cases = list(samples(selector))
        assert cases, selector
        for tx, _ in cases:
            swap = the_swap(enrich(tx))
            raw = Calldata(tx.input)
            if selector == "0x04e45aaf":
                assert swap.path == (raw.address(0), raw.address(1))
                assert swap.amount_out_min == raw.word(5)
            elif selector == "0xb858183f":
                base = raw.word(0)
                assert (swap.path, swap.fees) == packed_tokens(raw.bytes_at(0, base))
                assert swap.amount_out_min == raw.word(3, base)
            else:
                assert swap.path == raw.address_array(2)
                assert swap.amount_out_min == raw.word(1)
            assert swap.deadline is None  # no multicall around it: SwapRouter02 has no deadline


# --- Universal Router --------------------------------------------------------------------------------

UR_SWAP_COMMANDS = {0x00, 0x01, 0x08, 0x09}


def expected_ur_swaps(
    tx: Tx,
) -> list[tuple[tuple[str, ...], bool, int | None, int, tuple[int, ...]]]:
    raw = Calldata(tx.input)
    commands = raw.bytes_at(0)
    inputs = raw.bytes_array(1)
    out: list[tuple[tuple[str, ...], bool, int | None, int, tuple[int, ...]]] = []
    for command, data in zip(commands, inputs, strict=False):
        kind = command & 0x7F
        if kind not in UR_SWAP_COMMANDS:
            continue
        inp = Calldata("0x00000000" + data.hex())
        amount: int | None = inp.word(1)
        bound = inp.word(2)
        if kind in (0x00, 0x01):
            tokens, fees = packed_tokens(inp.bytes_at(3))
            if kind == 0x01:
                tokens, fees = tokens[::-1], fees[::-1]
            if kind == 0x00 and amount == 1 << 255:
                amount = None
        else:
            tokens, fees = inp.address_array(3), ()
            if kind == 0x08 and amount == 0:
                amount = None
        out.append((tokens, kind in (0x00, 0x08), amount, bound, fees))
    return out


def test_universal_router_execute_matches_commands() -> None:
    cases = list(samples("0x3593564c"))
    assert len(cases) >= 8
    kinds_seen: set[int] = set()
    for tx, receipt in cases:
        raw = Calldata(tx.input)
        kinds_seen |= {c & 0x7F for c in raw.bytes_at(0)}
        etx = enrich(tx)
        got = [
            (
                s.path,
                s.exact_input,
                s.amount_in if s.exact_input else s.amount_out,
                s.amount_out_min if s.exact_input else s.amount_in_max,
                s.fees,
            )
            for s in etx.swaps
        ]
        assert got == expected_ur_swaps(tx)
        assert all(s.deadline == raw.word(2) for s in etx.swaps)
        assert all(s.router == tx.to for s in etx.swaps)
        assert etx.kind == ("swap" if got else "other")
        if receipt is not None and receipt["status"] == "0x1":
            moved = {g["address"].lower() for g in logs(receipt, TRANSFER_TOPIC)}
            for s in etx.swaps:
                assert set(s.path) <= moved | {WETH}
    assert {0x00, 0x01, 0x08, 0x09} <= kinds_seen


def test_universal_router_exact_output_path_is_reversed() -> None:
    tx, _ = sample("0x0baab93d2e97f6e04aeaf963d2463a840a04d7f85d5813914f88fc69272936b2")
    exact_out = [s for s in enrich(tx).swaps if not s.exact_input and s.fees]
    assert exact_out
    for swap in exact_out:
        # The packed path starts at the output token; the swap must start at the input.
        inputs = Calldata(tx.input).bytes_array(1)
        packed_paths = [
            packed_tokens(Calldata("0x00000000" + d.hex()).bytes_at(3))[0]
            for c, d in zip(Calldata(tx.input).bytes_at(0), inputs, strict=False)
            if c & 0x7F == 0x01
        ]
        assert swap.path[::-1] in packed_paths


def test_universal_router_recipient_constants_are_resolved() -> None:
    for tx, _ in samples("0x3593564c"):
        for swap in enrich(tx).swaps:
            assert swap.recipient not in ("0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02")


# --- calldata built with eth_abi.encode: methods and cases without a real sample here -------------
# (Real Universal Router execute(bytes,bytes[]) and V3 SwapRouter exactOutput calls are tested in
# test_enrich_real_calldata.py; these keep the sentinels and flags no real sample exercises.)


def test_v3_swap_router_exact_output_reverses_the_path_synthetic() -> None:
    path = bytes.fromhex(DAI[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(USDC[2:])
    path += (3000).to_bytes(3, "big") + bytes.fromhex(WETH[2:])
    data = calldata(
        "0xf28c0498",
        ["(bytes,address,uint256,uint256,uint256)"],
        [(path, ALICE, 1_700_000_000, 10**18, 5 * 10**21)],
    )
    swap = the_swap(enrich(make_tx(V3_ROUTER, data)))
    assert swap.path == (WETH, USDC, DAI)  # encoded out → in; swap order is in → out
    assert swap.fees == (3000, 500)
    assert (swap.amount_out, swap.amount_in_max, swap.deadline) == (
        10**18,
        5 * 10**21,
        1_700_000_000,
    )


def test_router02_exact_output_and_blockhash_multicall_synthetic() -> None:
    path = bytes.fromhex(WETH[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(USDC[2:])
    inner = calldata("0x09b81346", ["(bytes,address,uint256,uint256)"], [(path, ALICE, 7, 9)])
    data = calldata(
        "0x1f0464d1", ["bytes32", "bytes[]"], [b"\x11" * 32, [bytes.fromhex(inner[2:])]]
    )
    etx = enrich(make_tx(ROUTER02, data))
    swap = the_swap(etx)
    assert etx.call is not None and etx.call.args["previousBlockhash"] == "0x" + "11" * 32
    assert (swap.path, swap.amount_out, swap.amount_in_max) == ((USDC, WETH), 7, 9)
    assert swap.deadline is None


def test_universal_router_execute_without_deadline_and_flags_synthetic() -> None:
    v3_path = bytes.fromhex(USDC[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(WETH[2:])
    commands = bytes([0x0B, 0x80 | 0x00, 0x08, 0x10, 0x09])
    inputs = [
        encode(["address", "uint256"], ["0x" + "00" * 19 + "02", 10**18]),  # WRAP_ETH: skipped
        encode(  # V3 exact in, allow-revert flag, CONTRACT_BALANCE, to MSG_SENDER
            ["address", "uint256", "uint256", "bytes", "bool"],
            ["0x" + "00" * 19 + "01", 1 << 255, 5, v3_path, False],
        ),
        encode(  # V2 exact in with amountIn 0: the pair was paid by the previous command
            ["address", "uint256", "uint256", "address[]", "bool"],
            ["0x" + "00" * 19 + "02", 0, 6, [WETH, DAI], True],
        ),
        b"\x01\x02",  # a V4 swap: not decoded, skipped
        encode(
            ["address", "uint256", "uint256", "address[]", "bool"],
            [ALICE, 100, 200, [DAI, USDC], True],
        ),
    ]
    data = calldata("0x24856bc3", ["bytes", "bytes[]"], [commands, inputs])
    etx = enrich(make_tx(UNIVERSAL_ROUTER, data, value=10**18))
    assert etx.kind == "swap" and etx.to_label == "Uniswap: Universal Router V1.2"
    v3, v2_in, v2_out = etx.swaps
    assert (v3.protocol, v3.path, v3.amount_in, v3.amount_out_min, v3.recipient) == (
        "uniswap_v3",
        (USDC, WETH),
        None,
        5,
        ALICE,
    )
    assert (v2_in.protocol, v2_in.amount_in, v2_in.recipient) == (
        "uniswap_v2",
        None,
        UNIVERSAL_ROUTER,
    )
    assert (v2_out.exact_input, v2_out.amount_out, v2_out.amount_in_max) == (False, 100, 200)
    assert all(s.deadline is None for s in etx.swaps)


def test_universal_router_v2_exact_input_of_the_router_balance_has_no_amount_synthetic() -> None:
    # Real routes do this: mainnet tx 0xfd25bd671e4186f360e673bee850a7ba0677bd45f1498ad400c81ffb0cef7838
    # has a V2_SWAP_EXACT_IN of amountIn 2**255 (as decoded in Elnaril/uniswap-universal-router-
    # decoder's tests/resources/transactions.py). Its raw input is not among our samples.
    router_self = "0x" + "00" * 19 + "02"
    v3_path = bytes.fromhex(USDC[2:]) + (500).to_bytes(3, "big") + bytes.fromhex(WETH[2:])
    inputs = [
        encode(
            ["address", "uint256", "uint256", "bytes", "bool"],
            [router_self, 10**8, 0, v3_path, True],
        ),
        encode(
            ["address", "uint256", "uint256", "address[]", "bool"],
            [ALICE, 1 << 255, 7, [WETH, DAI], False],
        ),
    ]
    data = calldata("0x24856bc3", ["bytes", "bytes[]"], [bytes([0x00, 0x08]), inputs])
    v3, v2 = enrich(make_tx(UNIVERSAL_ROUTER, data)).swaps
    assert (v3.amount_in, v3.recipient) == (10**8, UNIVERSAL_ROUTER)
    assert (v2.path, v2.amount_in, v2.amount_out_min, v2.recipient) == ((WETH, DAI), None, 7, ALICE)


def test_a_malformed_command_does_not_hide_the_others() -> None:
    good = encode(
        ["address", "uint256", "uint256", "address[]", "bool"], [ALICE, 1, 2, [DAI, USDC], True]
    )
    data = calldata(
        "0x3593564c",
        ["bytes", "bytes[]", "uint256"],
        [bytes([0x08, 0x08]), [b"\xff" * 40, good], 9],
    )
    swap = the_swap(enrich(make_tx(UNIVERSAL_ROUTER, data)))
    assert (swap.path, swap.deadline) == ((DAI, USDC), 9)


# --- not decodable, no exception ------------------------------------------------------------------


def test_truncated_real_calldata_is_not_decoded() -> None:
    truncated = [rpc_tx(e["tx"]) for e in CHAIN_SAMPLES if len(e["tx"]["input"]) == 10]
    assert {"0xa9059cbb", "0x3593564c"} <= {tx.selector for tx in truncated}
    for tx in truncated:
        etx = enrich(tx)
        assert etx.call is None and etx.swaps == ()
        assert etx.token_amount is None
        # The selector is all that is known: a token method keeps its kind, a router call is "other".
        assert etx.kind == ("token_transfer" if tx.selector == "0xa9059cbb" else "other")


KNOWN_SELECTORS = sorted(
    {"0xa9059cbb", "0x095ea7b3", "0x23b872dd", "0xd505accf", "0xa22cb465"}
    | set(V2_LAYOUT)
    | {"0x414bf389", "0xc04b8d59", "0xdb3e2198", "0xf28c0498", "0xac9650d8", "0x5ae401dc"}
    | {"0x1f0464d1", "0x04e45aaf", "0xb858183f", "0x5023b4df", "0x09b81346", "0x472b43f3"}
    | {"0x42712a67", "0x3593564c", "0x24856bc3"}
)


@settings(max_examples=300, deadline=None)
@given(selector=st.sampled_from(KNOWN_SELECTORS), body=st.binary(max_size=400))
def test_garbage_after_a_known_selector_never_raises(selector: str, body: bytes) -> None:
    etx = enrich(make_tx(V2_ROUTER, selector + body.hex(), value=1))
    assert etx.kind in ("swap", "approval", "token_transfer", "other")
    assert etx.kind != "swap" or etx.swaps


def test_random_words_after_transfer_are_not_decoded() -> None:
    dirty_address = "ff" * 12 + "11" * 20  # an address word with its high bytes set
    etx = enrich(make_tx(USDC, "0xa9059cbb" + dirty_address + "00" * 31 + "05"))
    assert etx.call is None and etx.token_amount is None


# --- kinds and labels --------------------------------------------------------------------------------


def test_kinds_of_plain_transactions() -> None:
    assert enrich(make_tx(None, "0x6080604052")).kind == "contract_creation"
    assert enrich(make_tx(ALICE, "0x", value=5)).kind == "transfer"
    assert enrich(make_tx(ALICE, "0x", value=0)).kind == "other"
    assert enrich(make_tx(ALICE, "0x12345678aa", value=5)).kind == "other"
    deposits = [rpc_tx(e["tx"]) for e in CHAIN_SAMPLES if e["tx"].get("type") == "0x7e"]
    assert deposits
    for tx in deposits:
        etx = enrich(tx)
        assert etx.kind == "deposit"
        assert etx.sender_label == "Optimism: L1 attributes depositor"
        assert etx.to_label == "Optimism: L1Block"


def test_labels_are_per_chain() -> None:
    usdc_base = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
    assert enrich(make_tx(USDC, "0x", chain_id=1)).to_label == "USDC"
    assert enrich(make_tx(usdc_base, "0x", chain_id=8453)).to_label == "USDC"
    assert enrich(make_tx(usdc_base, "0x", chain_id=1)).to_label is None
    assert enrich(make_tx(USDC, "0x", chain_id=8453)).to_label is None
    weth_op = "0x4200000000000000000000000000000000000006"
    assert enrich(make_tx(weth_op, "0x", chain_id=10)).to_label == "WETH"
    arb_weth = "0x82af49447d8a07e3bd95bd0d56f35241523fbab1"
    assert enrich(make_tx(arb_weth, "0x", chain_id=42161)).to_label == "WETH"
    assert enrich(make_tx(ALICE, "0x", sender=V2_ROUTER)).sender_label == "Uniswap V2: Router02"
    assert enrich(make_tx(ALICE, "0x", chain_id=137)).to_label is None  # an unknown chain


def test_extra_labels_and_abis_extend_and_override(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    # YAML reads the unquoted key as an int: the loader takes it back as an address.
    (labels / "mine.yaml").write_text(
        f"1:\n  {USDC}: {{label: My USDC, category: stablecoin}}\n"
        f"  {ALICE}: Alice\n"
        f'8453:\n  "{SUSHI_ROUTER}": {{label: Fork router, category: router, protocol: forkswap}}\n'
    )
    abis = tmp_path / "abi"
    abis.mkdir()
    (abis / "vault.json").write_text(
        json.dumps(
            {
                "abi": [
                    {
                        "type": "function",
                        "name": "deposit",
                        "inputs": [
                            {"name": "assets", "type": "uint256"},
                            {"name": "receiver", "type": "address"},
                        ],
                    }
                ]
            }
        )
    )
    enricher = Enricher.load(labels, abis)
    etx = enricher.enrich(make_tx(USDC, "0x", sender=ALICE))
    assert (etx.to_label, etx.sender_label) == ("My USDC", "Alice")
    deposit = calldata("0x6e553f65", ["uint256", "address"], [42, ALICE])
    etx = enricher.enrich(make_tx(ALICE, deposit))
    assert etx.call is not None and etx.call.args == {"assets": 42, "receiver": ALICE}
    assert etx.kind == "other"
    assert enrich(make_tx(ALICE, deposit)).call is None  # the bundled enricher is unchanged
    v2 = calldata(
        "0x38ed1739",
        ["uint256", "uint256", "address[]", "address", "uint256"],
        [1, 2, [DAI, USDC], ALICE, 3],
    )
    assert (
        the_swap(enricher.enrich(make_tx(SUSHI_ROUTER, v2, chain_id=8453))).protocol == "forkswap"
    )


@pytest.mark.parametrize(
    "text",
    [
        "1: [not, a, mapping]\n",
        '1:\n  "0x1234": USDC\n',
        'mainnet:\n  "0x' + "11" * 20 + '": X\n',
        '1:\n  "0x' + "11" * 20 + '": {category: token}\n',
        '1:\n  "0x' + "11" * 20 + '": {label: X, colour: red}\n',
        '1:\n  "0x' + "11" * 20 + '": {label: X, category: token, decimals: six}\n',
    ],
)
def test_malformed_label_files_are_refused_with_the_file_named(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(LabelFileError, match=r"bad\.yaml"):
        load_labels([tmp_path])


def test_bundled_token_labels_carry_their_decimals() -> None:
    # The console shows amounts in token units from these (web/vite.config.ts reads the same files).
    labels = load_labels([Path(__file__).parents[2] / "operators/enrich/data/labels"])
    assert labels[1][USDC].decimals == 6
    assert labels[1][DAI].decimals == 18
    tokens = [
        x
        for chain in labels.values()
        for x in chain.values()
        if x.category in {"token", "stablecoin", "wrapped_native"}
    ]
    assert tokens and all(isinstance(x.decimals, int) for x in tokens)


def test_config_names_the_users_folders(tmp_path: Path) -> None:
    (tmp_path / "team.json").write_text(json.dumps({"1": {ALICE: {"label": "Treasury"}}}))
    config = load_config({"SCORPIUS_ENRICH_LABELS_DIR": str(tmp_path)})
    enricher = Enricher.load(config.enrich.labels_dir, config.enrich.abi_dir)
    assert enricher.enrich(make_tx(ALICE, "0x", value=1)).to_label == "Treasury"
    assert enricher.label(1, ALICE) is not None and DEFAULT_ENRICHER.label(1, ALICE) is None


def test_enrich_as_a_bytewax_map_step() -> None:
    txs = [rpc_tx(e["tx"]) for e in CHAIN_SAMPLES]
    out: list[EnrichedTx] = []
    flow = Dataflow("enrich_test")
    enriched = op.map("enrich", op.input("in", flow, TestingSource(txs)), enrich)
    op.output("out", enriched, TestingSink(out))
    run_main(flow)
    assert [e.tx.hash for e in out] == [tx.hash for tx in txs]
    assert {"swap", "token_transfer", "approval", "deposit", "other"} <= {e.kind for e in out}


def test_a_router_labelled_with_another_command_layout_is_not_read_as_uniswaps(
    tmp_path: Path,
) -> None:
    tx, _ = next((tx, r) for tx, r in samples("0x3593564c") if tx.to and expected_ur_swaps(tx))
    assert enrich(tx).swaps  # Uniswap's router (or an unlabelled copy): read
    fork = {str(tx.chain_id): {tx.to: {"label": "A fork", "commands": "aerodrome"}}}
    (tmp_path / "forks.json").write_text(json.dumps(fork))
    enricher = Enricher.load(str(tmp_path), "")
    etx = enricher.enrich(tx)
    assert etx.to_label == "A fork"
    assert etx.call is not None and etx.swaps == () and etx.kind != "swap"
