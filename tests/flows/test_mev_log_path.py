"""The log path finds what the trace path finds, on one real block of a real chain.

A fresh Anvil node gets Uniswap's own contracts from npm (V2 factory and pairs from
@uniswap/v2-core, a V3 factory and pool from @uniswap/v3-core, tokens from v2-core's ERC20
build; tests/services/install_uniswap.sh) and two trader contracts (tests/flows/contracts/
PoolTrader.sol: they only call the pools). One block then holds a searcher's arbitrage (V2 pair
→ V3 pool and back, one tx) and a sandwich on a V2 pair (frontrun, a victim's swap, backrun). The
block is fetched like the RPC source does (body, ``eth_getBlockReceipts``, ``trace_block``),
normalized, and detected twice: with its traces, and with its traces removed (logs only).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import brotli
import msgspec
import pytest
from eth_abi import encode

from operators.alerting import RECORD_KINDS
from operators.l2.flashblocks import FlashblockDecoder
from operators.l2.preconfirmed import preconfirmed_detections
from operators.mev.block import analyze_block, detect_block
from operators.normalize import normalize_item
from operators.records import Block, RawItem
from tests.flows.test_mev_anvil import DEV_KEYS, Chain, address_of
from tests.services.anvil import StartAnvil
from tests.services.solc import Compile, Compiled

pytestmark = [pytest.mark.service, pytest.mark.slow]

UNISWAP = Path.home() / ".cache/scorpius/uniswap/node_modules/@uniswap"
INSTALLER = Path(__file__).resolve().parents[1] / "services" / "install_uniswap.sh"
CONTRACTS = Path(__file__).parent / "contracts" / "PoolTrader.sol"
E18 = 10**18
GWEI = 10**9
DEPLOYER, SEARCHER, VICTIM = DEV_KEYS[0], DEV_KEYS[2], DEV_KEYS[1]


def npm_build(path: str) -> Compiled:
    """Creation code and ABI of a contract as Uniswap published it on npm."""
    found = UNISWAP / path
    if not found.exists():
        subprocess.run(["bash", str(INSTALLER)], check=True)
    artifact = json.loads(found.read_text())
    code = artifact["bytecode"]
    code = code if isinstance(code, str) else code["object"]
    return Compiled(artifact["abi"], bytes.fromhex(code.removeprefix("0x")))


def deploy(chain: Chain, contract: Compiled, types: list[str], args: list[Any]) -> str:
    """Deploy with room for Uniswap's factories (the V3 factory embeds the pool's code)."""
    code = "0x" + (contract.bytecode + encode(types, args)).hex()
    tx_hash = chain.send(DEPLOYER, None, code, gas=15_000_000)
    chain.mine()
    address: str = chain.receipt(tx_hash)["contractAddress"]
    return address.lower()


def transact(chain: Chain, key: str, to: str, signature: str, *args: Any) -> None:
    tx_hash = chain.send(key, to, _call(signature, *args), gas=15_000_000)
    chain.mine()
    chain.receipt(tx_hash)


def v2_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut (0.3% fee)."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


class Pair:
    """A V2 pair and the reserves it holds, tracked as the test's swaps change them."""

    def __init__(self, chain: Chain, factory: str, token_a: str, token_b: str) -> None:
        transact(chain, DEPLOYER, factory, "createPair(address,address)", token_a, token_b)
        (address,) = chain.call(factory, "getPair(address,address)", ["address"], token_a, token_b)
        self.address = address.lower()
        self.token0, self.token1 = sorted((token_a, token_b))
        self.reserves = {self.token0: 0, self.token1: 0}
        self.chain = chain

    def fund(self, amounts: dict[str, int]) -> None:
        for token, amount in amounts.items():
            transact(self.chain, DEPLOYER, token, "transfer(address,uint256)", self.address, amount)
            self.reserves[token] += amount
        transact(self.chain, DEPLOYER, self.address, "mint(address)", address_of(DEPLOYER))

    def swap_args(self, token_in: str, amount_in: int) -> tuple[int, int, int]:
        """(out0, out1, amount out) of a swap, and the reserves after it."""
        token_out = self.token1 if token_in == self.token0 else self.token0
        out = v2_out(amount_in, self.reserves[token_in], self.reserves[token_out])
        self.reserves[token_in] += amount_in
        self.reserves[token_out] -= out
        return (0, out, out) if token_in == self.token0 else (out, 0, out)


def fetch_block(chain: Chain, number: int) -> Block:
    """The block as the RPC source bundles it, through the flow's normalizer."""
    tag = hex(number)
    body = chain.node.rpc("eth_getBlockByNumber", tag, True)
    receipts = chain.node.rpc("eth_getBlockReceipts", tag)
    traces = chain.node.rpc("trace_block", tag)
    payload = json.dumps({"block": body, "receipts": receipts, "traces": traces}).encode()
    [block] = normalize_item(RawItem("block", 31337, "rpc:31337:anvil", 1, payload))
    assert isinstance(block, Block) and block.traces and block.receipts
    return block


def essentials(detection: Any) -> tuple[Any, ...]:
    """What a finding says, without where in the tx it was read (trace address vs log index)."""
    data = detection.data
    legs = [data.get("frontrun"), *data.get("victims", []), data.get("backrun")]
    legs = [leg for leg in legs if leg] or data.get("swaps", [])
    keep = (
        "tx_hash",
        "pool",
        "sender",
        "recipient",
        "token_in",
        "amount_in",
        "token_out",
        "amount_out",
    )
    return (
        detection.kind,
        detection.tx_hashes,
        tuple(tuple(leg[k] for k in keep) for leg in legs),
        data.get("profit_token"),
        data.get("profit_amount"),
    )


def test_log_path_finds_the_same_sandwich_and_arbitrage_as_the_trace_path(
    anvil_nodes: StartAnvil, solc_compile: Compile
) -> None:
    chain = Chain(anvil_nodes())
    trader_code = solc_compile(CONTRACTS)["PoolTrader"]
    erc20 = npm_build("v2-core/build/ERC20.json")
    tokens = [chain.deploy(DEPLOYER, erc20, ["uint256"], [10**30]) for _ in range(4)]
    a, b, c, d = tokens
    v2_factory = deploy(
        chain, npm_build("v2-core/build/UniswapV2Factory.json"), ["address"], [address_of(DEPLOYER)]
    )
    v3_factory = deploy(
        chain,
        npm_build("v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"),
        [],
        [],
    )
    searcher = chain.deploy(SEARCHER, trader_code, [], [])
    victim = chain.deploy(VICTIM, trader_code, [], [])
    transfer = "transfer(address,uint256)"
    for token in tokens:
        transact(chain, DEPLOYER, token, transfer, searcher, 1_000 * E18)
    transact(chain, DEPLOYER, a, transfer, victim, 100 * E18)
    transact(chain, DEPLOYER, c, transfer, victim, 100 * E18)

    sandwiched = Pair(chain, v2_factory, a, b)
    sandwiched.fund({a: 100 * E18, b: 200_000 * E18})
    cheap = Pair(chain, v2_factory, c, d)  # D is cheap here (1.5 D per C) ...
    cheap.fund({c: 100 * E18, d: 150 * E18})
    transact(chain, DEPLOYER, v3_factory, "createPool(address,address,uint24)", c, d, 3000)
    (pool,) = chain.call(v3_factory, "getPool(address,address,uint24)", ["address"], c, d, 3000)
    pool = pool.lower()
    transact(chain, DEPLOYER, pool, "initialize(uint160)", 2**96)  # ... and 1:1 in the V3 pool
    transact(
        chain,
        SEARCHER,
        searcher,
        "mintV3(address,int24,int24,uint128)",
        pool,
        -60000,
        60000,
        100 * E18,
    )

    # One block: a user's swap C→D on the V3 pool, the searcher's arbitrage right after it
    # (back-run: D back into the V3 pool), then frontrun, victim, backrun on the A/B pair.
    v2 = "v2(address,address,uint256,uint256,uint256,address)"
    target = chain.send(
        VICTIM,
        victim,
        _call("v3(address,bool,int256,address)", pool, c < d, 3 * E18, victim),
        tip=60 * GWEI,
    )
    arb_in = 2 * E18
    out0, out1, got_d = cheap.swap_args(c, arb_in)
    arb = chain.send(
        SEARCHER, searcher, _call(
            "arb(address,address,uint256,uint256,uint256,address,bool,int256)",
            cheap.address, c, arb_in, out0, out1, pool, d < c, got_d,
        ), tip=50 * GWEI,
    )  # fmt: skip
    front_in, victim_in = 10 * E18, 5 * E18
    out0, out1, front_out = sandwiched.swap_args(a, front_in)
    front = chain.send(
        SEARCHER,
        searcher,
        _call(v2, sandwiched.address, a, front_in, out0, out1, searcher),
        tip=30 * GWEI,
    )
    out0, out1, _ = sandwiched.swap_args(a, victim_in)
    victim_tx = chain.send(
        VICTIM,
        victim,
        _call(v2, sandwiched.address, a, victim_in, out0, out1, address_of(VICTIM)),
        tip=10 * GWEI,
    )
    out0, out1, _ = sandwiched.swap_args(b, front_out)
    back = chain.send(
        SEARCHER,
        searcher,
        _call(v2, sandwiched.address, b, front_out, out0, out1, searcher),
        tip=GWEI,
    )
    number = chain.mine()
    for tx_hash in (target, arb, front, victim_tx, back):
        chain.receipt(tx_hash)

    block = fetch_block(chain, number)
    assert [t.hash for t in block.txs] == [target, arb, front, victim_tx, back]
    # The MEV shapes; builder payments (records, not findings) differ by design between paths:
    # coinbase transfers are calls, which only traces show.
    traced = [x for x in detect_block(block) if x.kind not in RECORD_KINDS]
    logged = [
        x
        for x in detect_block(msgspec.structs.replace(block, traces=()))
        if x.kind not in RECORD_KINDS
    ]
    assert {x.data["path"] for x in traced} == {"traces"}
    assert {x.data["path"] for x in logged} == {"logs"}
    assert sorted(x.kind for x in traced) == ["arbitrage", "sandwich"]
    assert sorted(map(essentials, logged)) == sorted(map(essentials, traced))

    sandwich = next(x for x in logged if x.kind == "sandwich")
    assert sandwich.tx_hashes == (front, victim_tx, back)
    assert sandwich.data["sandwicher"] == searcher and sandwich.data["pool"] == sandwiched.address
    arbitrage = next(x for x in logged if x.kind == "arbitrage")
    assert arbitrage.tx_hashes == (arb,) and arbitrage.data["pools"] == [cheap.address, pool]
    assert arbitrage.data["profit_amount"] > 0 and arbitrage.data["profit_token"] == c
    # Both paths read the same swaps of the block (4 V2 swaps, 2 V3 swaps).
    swaps_logs = analyze_block(msgspec.structs.replace(block, traces=())).swaps
    swaps_traces = analyze_block(block).swaps
    assert len(swaps_logs) == len(swaps_traces) == 6
    assert [s.protocol for s in swaps_logs] == [s.protocol for s in swaps_traces]
    # On a sequencer-ordered chain the arbitrage right after the user's swap is also a back-run
    # of it, on both paths.
    for analysis in (
        analyze_block(block, backruns=True),
        analyze_block(msgspec.structs.replace(block, traces=()), backruns=True),
    ):
        [backrun] = analysis.backruns
        assert (backrun.target.tx_hash, backrun.arbitrage.swaps[0].tx_hash) == (target, arb)
        assert backrun.leg.pool == pool

    # The same block as one Flashblock (Base's documented frame, brotli): the preconfirmed view
    # finds the sandwich, the arbitrage, and the arbitrage as a back-run of the user's swap.
    frame = brotli.compress(flashblock_frame(chain, number, block).encode())
    decoder = FlashblockDecoder(31337, "flashblocks:31337:test")
    flashblock, items = decoder.decode(frame, 5)
    assert flashblock is not None and len(items) == 5
    hashes = [json.loads(i.payload)["hash"] for i in items if isinstance(i, RawItem)]
    assert hashes == [target, arb, front, victim_tx, back]
    early = preconfirmed_detections(flashblock, number, hashes, 31337, "fb", 5)
    assert sorted(x.kind for x in early) == ["arbitrage", "backrun", "sandwich"]
    assert {x.data["stage"] for x in early} == {"preconfirmed"}
    by_kind = {x.kind: x for x in early}
    assert essentials(by_kind["sandwich"]) == essentials(sandwich)
    assert essentials(by_kind["arbitrage"]) == essentials(arbitrage)
    assert by_kind["backrun"].tx_hashes == (target, arb)
    assert by_kind["backrun"].data["pool"] == pool


def flashblock_frame(chain: Chain, number: int, block: Block) -> str:
    """The block's txs and receipts in the Flashblocks wire format (docs.base.org, "Flashblocks
    WebSocket Reference"): index 0 with ``base``, ``diff.transactions`` the signed envelopes,
    ``metadata.receipts`` by tx hash."""
    raw = [chain.node.rpc("eth_getRawTransactionByHash", tx.hash) for tx in block.txs]
    receipts = chain.node.rpc("eth_getBlockReceipts", hex(number))
    return json.dumps(
        {
            "payload_id": "0x0000000000000001",
            "index": 0,
            "base": {"block_number": hex(number), "timestamp": hex(block.timestamp)},
            "diff": {"transactions": raw, "withdrawals": []},
            "metadata": {
                "block_number": number,
                "new_account_balances": {},
                "receipts": {
                    r["transactionHash"]: {
                        "Eip1559": {
                            "status": r["status"],
                            "cumulativeGasUsed": r["cumulativeGasUsed"],
                            "logs": [
                                {
                                    "address": log["address"],
                                    "topics": log["topics"],
                                    "data": log["data"],
                                }
                                for log in r["logs"]
                            ],
                        }
                    }
                    for r in receipts
                },
            },
        }
    )


def _call(signature: str, *args: Any) -> str:
    from tests.flows.test_mev_anvil import calldata

    return calldata(signature, *args)
