"""A CoW Protocol batch settlement on a real Anvil node running CoW's own published bytecode (npm
``@cowprotocol/contracts`` 1.8.0, LGPL-3.0-or-later: the creation bytecode in its mainnet
deployment records of GPv2Settlement and GPv2AllowListAuthentication; installed by
tests/services/install_cowprotocol.sh). Tokens are Uniswap V4's published MockERC20
(tests/services/install_uniswap_v4.sh). Two users' EIP-712-signed orders are matched against
each other (a coincidence of wants, no AMM) in one ``settle`` call.

The log path is tested on real mainnet receipts (test_protocols_real_receipts.py); no real
settlement with traces could be had here, so the trace path is this Anvil case (docs/mev.md).
Both paths must read the same two swaps off this block, and the settlement's own ``Trade``
events are the yardstick."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from operators.mev import analyze_block
from operators.mev.block import analyze_block_logs
from operators.mev.protocols import cow
from tests.operators.mev.anvil_chain import Chain
from tests.services.anvil import StartAnvil

pytestmark = pytest.mark.service

DEPLOYMENTS = (
    Path.home() / ".cache/scorpius/cowprotocol/node_modules/@cowprotocol/contracts/deployments"
)
V4_OUT = Path.home() / ".cache/scorpius/uniswap-v4/node_modules/@uniswap/v4-core/out"
# Anvil's default accounts 1 and 2 (its well-known test mnemonic).
KEYS = (
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
BALANCER_V2_VAULT = "0xba12222222228d8ba445958a75a0704d566bf2c8"  # stored only, never called
TRADE = "(uint256,uint256,address,uint256,uint256,uint32,bytes32,uint256,uint256,uint256,bytes)"
# GPv2's EIP-712 order struct, field by field as its contracts declare it.
ORDER_STRUCT = (
    "address sellToken,address buyToken,address receiver,uint256 sellAmount,uint256 buyAmount,"
    "uint32 validTo,bytes32 appData,uint256 feeAmount,string kind,bool partiallyFillable,"
    "string sellTokenBalance,string buyTokenBalance"
)
ORDER_TYPES = {
    "Order": [
        {"name": name, "type": type_}
        for type_, name in (field.split() for field in ORDER_STRUCT.split(","))
    ]
}


def _code(path: Path, key: str = "bytecode") -> bytes:
    if not path.is_file():
        pytest.fail(
            f"{path} missing: run tests/services/install_cowprotocol.sh and install_uniswap_v4.sh"
        )
    value = json.loads(path.read_text())[key]
    text = value["object"] if isinstance(value, dict) else value
    return bytes.fromhex(text[2:])


def _signed_trade(
    key: str, chain_id: int, settlement: str, tokens: list[str], order: dict[str, Any]
) -> tuple[Any, ...]:
    domain = {
        "name": "Gnosis Protocol",
        "version": "v2",
        "chainId": chain_id,
        "verifyingContract": settlement,
    }
    message = encode_typed_data(domain, ORDER_TYPES, order)
    signature = Account.sign_message(message, key).signature
    return (
        tokens.index(order["sellToken"]),
        tokens.index(order["buyToken"]),
        order["receiver"],
        order["sellAmount"],
        order["buyAmount"],
        order["validTo"],
        order["appData"],
        order["feeAmount"],
        0,  # flags: fill-or-kill sell order, ERC-20 balances, EIP-712 signature
        0,  # executedAmount: ignored for fill-or-kill orders
        bytes(signature),
    )


def test_a_cow_batch_settlement_is_one_swap_per_order(anvil_nodes: StartAnvil) -> None:
    chain = Chain(anvil_nodes())
    solver = chain.account
    users = [Account.from_key(k).address.lower() for k in KEYS]
    assert all(u in chain.accounts for u in users)
    mainnet = DEPLOYMENTS / "mainnet"
    auth = chain.deploy(_code(mainnet / "GPv2AllowListAuthentication_Implementation.json"), [], [])
    chain.call(auth, "initializeManager(address)", ["address"], [solver])
    chain.call(auth, "addSolver(address)", ["address"], [solver])
    settlement = chain.deploy(
        _code(mainnet / "GPv2Settlement.json"), ["address", "address"], [auth, BALANCER_V2_VAULT]
    )
    relayer = "0x" + chain.node.rpc("eth_call", {"to": settlement, "data": "0x9b552cc2"})[-40:]
    erc20 = _code(V4_OUT / "mocks/MockERC20.sol/MockERC20.json")
    tokens = sorted(
        chain.deploy(erc20, ["string", "string", "uint8"], [n, n, 18]) for n in ("AAA", "BBB")
    )
    for user, token in zip(users, tokens, strict=True):
        chain.call(token, "mint(address,uint256)", ["address", "uint256"], [user, 10**24])
        chain.call(
            token, "approve(address,uint256)", ["address", "uint256"], [relayer, 2**255], user
        )
    head = chain.node.rpc("eth_getBlockByNumber", "latest", False)
    valid_to = int(head["timestamp"], 16) + 3600
    sells = (100 * 10**18, 200 * 10**18)  # user 0 sells AAA, user 1 sells BBB
    orders = [
        {
            "sellToken": tokens[i],
            "buyToken": tokens[1 - i],
            "receiver": "0x" + "00" * 20,
            "sellAmount": sells[i],
            "buyAmount": sells[i] // 4,  # limit prices both orders accept at 2 BBB per AAA
            "validTo": valid_to,
            "appData": b"\0" * 32,
            "feeAmount": 0,
            "kind": "sell",
            "partiallyFillable": False,
            "sellTokenBalance": "erc20",
            "buyTokenBalance": "erc20",
        }
        for i in range(2)
    ]
    trades = [
        _signed_trade(key, chain.node.chain_id, settlement, tokens, order)
        for key, order in zip(KEYS, orders, strict=True)
    ]
    prices = [2, 1]  # 1 AAA = 2 BBB: user 0 gets 200 BBB, user 1 gets 100 AAA
    receipt = chain.call(
        settlement,
        f"settle(address[],uint256[],{TRADE}[],(address,uint256,bytes)[][3])",
        ["address[]", "uint256[]", f"{TRADE}[]", "(address,uint256,bytes)[][3]"],
        [tokens, prices, trades, [[], [], []]],
    )
    events = [log for log in receipt["logs"] if log["topics"][0] == cow.TRADE]
    assert len(events) == 2

    def from_event(log: dict[str, Any]) -> tuple[str, str, str, int, int]:
        data = log["data"][2:]
        return (
            "0x" + log["topics"][1][-40:],
            "0x" + data[24:64],
            "0x" + data[88:128],
            int(data[128:192], 16),
            int(data[192:256], 16),
        )

    expected = [from_event(log) for log in events]
    assert expected == [
        (users[0], tokens[0], tokens[1], sells[0], 2 * sells[0]),
        (users[1], tokens[1], tokens[0], sells[1], sells[1] // 2),
    ]
    block = chain.block(int(receipt["blockNumber"], 16))
    for analysis in (analyze_block(block), analyze_block_logs(block)):
        swaps = [s for s in analysis.swaps if s.protocol == "cow"]
        got = [(s.sender, s.token_in, s.token_out, s.amount_in, s.amount_out) for s in swaps]
        assert got == expected, analysis.path
        assert {s.pool for s in swaps} == {settlement}
        assert all(s.recipient == s.sender for s in swaps)  # receiver unset: the owner
        assert {s.tx_hash for s in swaps} == {receipt["transactionHash"].lower()}
        assert len({s.trace_address for s in swaps}) == 2  # distinct keys within the batch
        assert not analysis.arbitrages and not analysis.sandwiches
