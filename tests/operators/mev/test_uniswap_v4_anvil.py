"""Uniswap V4 swaps on a real Anvil node running V4's own published bytecode (npm
``@uniswap/v4-core`` 1.0.2 build artifacts, BUSL-1.1, installed by
tests/services/install_uniswap_v4.sh): PoolManager, its PoolSwapTest and PoolModifyLiquidityTest
routers and MockERC20 tokens. No real mainnet V4 block with traces could be had here, so this is
the Anvil case of docs/mev.md. The block goes through the flow's normalizer (body, receipts and
``trace_block`` as the RPC source bundles them) and the block detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

from operators.mev import analyze_block
from operators.mev.protocols.uniswap_v4 import pool_id
from tests.operators.mev.anvil_chain import Chain
from tests.services.anvil import StartAnvil

pytestmark = pytest.mark.service

OUT = Path.home() / ".cache/scorpius/uniswap-v4/node_modules/@uniswap/v4-core/out"
KEY = "(address,address,uint24,int24,address)"
MIN_SQRT_PRICE_PLUS_ONE = 4295128739 + 1


def _artifact(path: str) -> bytes:
    if not (OUT / path).is_file():
        pytest.fail(f"{OUT / path} missing: run tests/services/install_uniswap_v4.sh")
    return bytes.fromhex(json.loads((OUT / path).read_text())["bytecode"]["object"][2:])


def test_a_v4_swap_through_the_pool_manager_is_classified(anvil_nodes: StartAnvil) -> None:
    chain = Chain(anvil_nodes())
    me = chain.account
    manager = chain.deploy(_artifact("PoolManager.sol/PoolManager.json"), ["address"], [me])
    tokens = sorted(
        chain.deploy(
            _artifact("mocks/MockERC20.sol/MockERC20.json"),
            ["string", "string", "uint8"],
            [n, n, 18],
        )
        for n in ("AAA", "BBB")
    )
    liquidity = chain.deploy(
        _artifact("PoolModifyLiquidityTest.sol/PoolModifyLiquidityTest.json"),
        ["address"],
        [manager],
    )
    router = chain.deploy(_artifact("PoolSwapTest.sol/PoolSwapTest.json"), ["address"], [manager])
    for token in tokens:
        chain.call(token, "mint(address,uint256)", ["address", "uint256"], [me, 10**30])
        for spender in (liquidity, router):
            chain.call(token, "approve(address,uint256)", ["address", "uint256"], [spender, 2**255])
    key = (tokens[0], tokens[1], 3000, 60, "0x" + "00" * 20)
    chain.call(manager, f"initialize({KEY},uint160)", [KEY, "uint160"], [key, 2**96])
    chain.call(
        liquidity,
        f"modifyLiquidity({KEY},(int24,int24,int256,bytes32),bytes)",
        [KEY, "(int24,int24,int256,bytes32)", "bytes"],
        [key, (-600, 600, 10**21, b"\0" * 32), b""],
    )
    amount_in = 10**18
    receipt = chain.call(
        router,
        f"swap({KEY},(bool,int256,uint160),(bool,bool),bytes)",
        [KEY, "(bool,int256,uint160)", "(bool,bool)", "bytes"],
        [key, (True, -amount_in, MIN_SQRT_PRICE_PLUS_ONE), (False, False), b""],
    )

    block = chain.block(int(receipt["blockNumber"], 16))
    [swap] = analyze_block(block).swaps
    assert swap.protocol == "uniswap_v4"
    assert swap.tx_hash == receipt["transactionHash"].lower()
    assert swap.pool == pool_id(key)
    assert (swap.sender, swap.recipient) == (router, router)
    assert (swap.token_in, swap.amount_in) == (tokens[0], amount_in)
    assert swap.token_out == tokens[1]
    assert swap.hooks is None  # the key names no hooks contract
    # What the swap returned is what left the PoolManager: PoolSwapTest takes it for its caller.
    transfer = "0x" + function_signature_to_4byte_selector("transfer(address,uint256)").hex()
    [paid_out] = [t for t in block.traces if t.to == tokens[1] and t.input.startswith(transfer)]
    (to, value) = decode(["address", "uint256"], bytes.fromhex(paid_out.input[10:]))
    assert (paid_out.sender, value) == (manager, swap.amount_out)
    assert to.lower() == me.lower()
