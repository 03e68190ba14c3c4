"""PancakeSwap V3 swaps and CoW Protocol batch settlements on real mainnet receipts (blocks
18,999,999 and 19,125,000 from erigontech/rpc-tests, Apache-2.0, tests/data/mev/chain/NOTICE.md).

The fixtures are ``eth_getBlockReceipts``-style answers without the block's body, so the block is
built from the receipts (number, hash, tx order); timestamp and miner are unknown (0 / None, as
mev-inspect-py's loader does for its own fixtures) and play no part in what is asserted. Blocks
without traces are classified from their logs (operators/mev/logs.py), as the flow does."""

from __future__ import annotations

import gzip
import json
from typing import Any

import msgspec
from eth_utils import keccak

from operators.mev import analyze_block
from operators.mev.pools import BUNDLED
from operators.mev.protocols import cow
from operators.records import Block
from operators.rpc_json import RpcReceipt
from operators.rpc_records import receipt_from_rpc
from tests.operators.mev.conftest import DATA

CHAIN = DATA / "chain"
PANCAKE_V3_SWAP = (
    "0x"
    + keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24,uint128,uint128)").hex()
)
TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


def _receipts(name: str) -> list[dict[str, Any]]:
    answer = json.loads(gzip.decompress((CHAIN / name).read_bytes()))
    answer = answer[0] if isinstance(answer, list) else answer
    receipts: list[dict[str, Any]] = answer["response"]["result"]
    return receipts


def _block(receipts: list[dict[str, Any]]) -> Block:
    first = receipts[0]
    return Block(
        chain_id=1,
        number=int(first["blockNumber"], 16),
        hash=first["blockHash"],
        timestamp=0,
        miner=None,
        base_fee_per_gas=None,
        first_seen_ms=0,
        source="erigon-rpc-tests",
        receipts=tuple(receipt_from_rpc(msgspec.convert(r, RpcReceipt)) for r in receipts),
        tx_hashes=tuple(r["transactionHash"] for r in receipts),
    )


def _word(data: str, index: int) -> int:
    value = int(data[2 + 64 * index : 2 + 64 * (index + 1)], 16)
    return value - (1 << 256) if value >> 255 else value


def test_a_pancakeswap_v3_swap_is_named_by_its_pool_address() -> None:
    receipts = _receipts("erigon_getBlockReceiptsByBlockHash-test_08.json.gz")
    [(receipt, log)] = [
        (r, log) for r in receipts for log in r["logs"] if log["topics"][0] == PANCAKE_V3_SWAP
    ]
    pool = log["address"].lower()
    analysis = analyze_block(_block(receipts))
    assert analysis.path == "logs"
    [swap] = [s for s in analysis.swaps if s.pool == pool]
    assert swap.exchange == "pancakeswap_v3"
    assert swap.protocol == "uniswap_v3"  # the interface: same pool functions as Uniswap V3
    assert swap.tx_hash == receipt["transactionHash"]
    # The event's signed amounts: what the pool received is positive, what it paid negative.
    amounts = {_word(log["data"], 0), _word(log["data"], 1)}
    assert amounts == {swap.amount_in, -swap.amount_out}
    # The pool is the PancakeSwap deployer's CREATE2 address for this pair at the 0.25% tier.
    assert BUNDLED.v3_fork_pool(1, "pancakeswap_v3", swap.token_in, swap.token_out, 2500) == pool
    assert BUNDLED.v3_pool(1, swap.token_in, swap.token_out, 2500) != pool
    # Every other V3-interface swap of the block is a Uniswap V3 pool.
    others = {s.exchange for s in analysis.swaps if s.protocol == "uniswap_v3" and s is not swap}
    assert others == {"uniswap_v3"}


def _trades(receipts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r["transactionHash"], log)
        for r in receipts
        for log in r["logs"]
        if log["topics"][0] == cow.TRADE and log["address"].lower() == cow.SETTLEMENT
    ]


def test_each_order_of_a_cow_batch_settlement_is_a_swap() -> None:
    receipts = _receipts("eth_getBlockReceipts-test_09.json.gz")
    trades = _trades(receipts)
    assert len(trades) == 2  # one settlement tx settling two orders
    swaps = [s for s in analyze_block(_block(receipts)).swaps if s.protocol == "cow"]
    assert len(swaps) == len(trades)
    for swap, (tx_hash, log) in zip(swaps, trades, strict=True):
        owner = "0x" + log["topics"][1][-40:]
        assert (swap.tx_hash, swap.pool) == (tx_hash, cow.SETTLEMENT)
        assert (swap.sender, swap.recipient) == (owner, owner)
        assert swap.token_in == "0x" + log["data"][2 + 24 : 2 + 64]
        assert swap.token_out == "0x" + log["data"][2 + 64 + 24 : 2 + 128]
        assert (swap.amount_in, swap.amount_out) == (_word(log["data"], 2), _word(log["data"], 3))
    assert len({s.sender for s in swaps}) == 2
    # CoW marks native ETH bought with the same 0xeee... address Scorpius uses.
    assert "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" in {s.token_out for s in swaps}


def test_a_cow_trade_among_amm_swaps_makes_no_arbitrage() -> None:
    receipts = _receipts("erigon_getBlockReceiptsByBlockHash-test_08.json.gz")
    analysis = analyze_block(_block(receipts))
    [cow_swap] = [s for s in analysis.swaps if s.protocol == "cow"]
    [(tx_hash, _)] = _trades(receipts)
    assert cow_swap.tx_hash == tx_hash
    assert not any(s.protocol == "cow" for a in analysis.arbitrages for s in a.swaps)
    assert not any(cow_swap in (w.frontrun, w.backrun) for w in analysis.sandwiches)


CURVE_NG_CRYPTO_EXCHANGE = (
    "0x"
    + keccak(text="TokenExchange(address,uint256,uint256,uint256,uint256,uint256,uint256)").hex()
)


def test_a_tricrypto_ng_swap_is_read_from_its_longer_token_exchange() -> None:
    receipts = _receipts("eth_getBlockReceipts-test_03.json.gz")
    [(receipt, log)] = [
        (r, log)
        for r in receipts
        for log in r["logs"]
        if log["topics"][0] == CURVE_NG_CRYPTO_EXCHANGE
    ]
    pool, buyer = log["address"].lower(), "0x" + log["topics"][1][-40:]
    analysis = analyze_block(_block(receipts))
    [swap] = [s for s in analysis.swaps if s.pool == pool]
    assert swap.protocol == "curve"
    assert (swap.tx_hash, swap.trace_address) == (
        receipt["transactionHash"],
        (int(log["logIndex"], 16),),
    )
    assert (swap.amount_in, swap.amount_out) == (_word(log["data"], 1), _word(log["data"], 3))
    # The router paid the pool native ETH (no token transfer to it: it had just unwrapped WETH),
    # and got back the token the pool transferred to it right before the event.
    [paid_out] = [
        t
        for t in receipt["logs"]
        if t["topics"][0] == TRANSFER
        and int(t["logIndex"], 16) < int(log["logIndex"], 16)
        and t["topics"][1][-40:] == pool[2:]
    ]
    assert swap.token_in == "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    assert (swap.token_out, swap.recipient) == (paid_out["address"].lower(), buyer)
    assert swap.amount_out == int(paid_out["data"], 16)
    # The same router tx went through two older Curve pools as well: three hops, one swap each.
    hops = [s for s in analysis.swaps if s.tx_hash == swap.tx_hash]
    assert [s.protocol for s in hops] == ["curve"] * 3
    assert hops[1] == swap and hops[1].token_out == hops[2].token_in
    # Between the first two hops the router unwrapped the WETH it got into the ETH it paid.
    assert hops[0].token_out == "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
