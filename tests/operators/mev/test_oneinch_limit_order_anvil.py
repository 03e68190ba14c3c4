"""1inch Limit Order Protocol v4 fills on a real Anvil node running 1inch's own published code
(npm ``@1inch/limit-order-protocol-contract`` 4.3.3, MIT: LimitOrderProtocol and its
WrappedTokenMock, with ``@1inch/solidity-utils``' TokenMock; the package ships sources only,
compiled in the session with npm ``solc`` 0.8.30 through the IR pipeline, as its authors build
it; installed by tests/services/install_oneinch_lop.sh). No real v4 fill with traces or receipts
is in the data here (the reference blocks hold v1 fills, a different order struct), so this is
the Anvil case of docs/mev.md. A maker signs an order (EIP-712, the digest from the contract's
own ``hashOrder``), a taker fills part of it, and the block goes through the flow's normalizer
and the block detector; amounts are checked against the tokens' balances read back by
``eth_call`` and against the protocol's ``OrderFilled`` event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak

from operators.mev import analyze_block, detect_block
from tests.operators.mev.anvil_chain import Chain
from tests.services.anvil import StartAnvil
from tests.services.solc import Compiled, compile_sources, import_closure

pytestmark = pytest.mark.service

MODULES = Path.home() / ".cache/scorpius/oneinch-lop/node_modules"
LOP = "@1inch/limit-order-protocol-contract/contracts"
UTILS = "@1inch/solidity-utils/contracts"
ORDER = "(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
MAKER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Anvil's #1
ORDER_FILLED = "0x" + keccak(text="OrderFilled(bytes32,uint256)").hex()
E18 = 10**18


def _contracts() -> dict[str, Compiled]:
    units = {
        f"{LOP}/LimitOrderProtocol.sol": "LimitOrderProtocol",
        f"{LOP}/mocks/WrappedTokenMock.sol": "WrappedTokenMock",
        f"{UTILS}/mocks/TokenMock.sol": "TokenMock",
    }
    if (
        not all((MODULES / unit).is_file() for unit in units)
        or not (MODULES / "solc/package.json").is_file()
    ):
        pytest.fail(f"{MODULES} incomplete: run tests/services/install_oneinch_lop.sh")
    sources = import_closure(units, MODULES.joinpath)
    built = compile_sources(sources, MODULES / "solc", via_ir=True)
    return {name: built[unit][name] for unit, name in units.items()}


def _call(chain: Chain, to: str, signature: str, types: list[str], args: list[Any]) -> bytes:
    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    answer: str = chain.node.rpc("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")
    return bytes.fromhex(answer[2:])


def _balance(chain: Chain, token: str, owner: str) -> int:
    [value] = decode(["uint256"], _call(chain, token, "balanceOf(address)", ["address"], [owner]))
    return int(value)


def test_a_partial_fill_is_a_swap_of_the_taker(anvil_nodes: StartAnvil) -> None:
    code = _contracts()
    chain = Chain(anvil_nodes())
    taker = chain.account
    maker = Account.from_key(MAKER_KEY).address.lower()
    assert maker in chain.accounts
    weth = chain.deploy(code["WrappedTokenMock"].bytecode, ["string", "string"], ["WETH", "WETH"])
    protocol = chain.deploy(code["LimitOrderProtocol"].bytecode, ["address"], [weth])
    sold, bought = (
        chain.deploy(code["TokenMock"].bytecode, ["string", "string"], [name, name])
        for name in ("SOLD", "BOUGHT")
    )
    for token, owner in ((sold, maker), (bought, taker)):
        chain.call(token, "mint(address,uint256)", ["address", "uint256"], [owner, 1000 * E18])
        chain.call(
            token, "approve(address,uint256)", ["address", "uint256"], [protocol, 2**255], owner
        )
    # The maker sells 100 SOLD for 250 BOUGHT, partial fills allowed (maker traits 0).
    order = (1, int(maker, 16), 0, int(sold, 16), int(bought, 16), 100 * E18, 250 * E18, 0)
    [digest] = decode(["bytes32"], _call(chain, protocol, f"hashOrder({ORDER})", [ORDER], [order]))
    signed = Account.unsafe_sign_hash(digest, MAKER_KEY)
    vs = signed.s | ((signed.v - 27) << 255)  # EIP-2098 compact signature
    before = _balance(chain, sold, taker), _balance(chain, bought, maker)

    taking = 100 * E18  # taker traits 0: ``amount`` is what the taker pays
    receipt = chain.call(
        protocol,
        f"fillOrder({ORDER},bytes32,bytes32,uint256,uint256)",
        [ORDER, "bytes32", "bytes32", "uint256", "uint256"],
        [order, signed.r.to_bytes(32, "big"), vs.to_bytes(32, "big"), taking, 0],
    )
    [filled] = [log for log in receipt["logs"] if log["topics"][0] == ORDER_FILLED]
    remaining = int(filled["data"][66:130], 16)  # what the maker still offers, its own figure
    got = _balance(chain, sold, taker) - before[0]
    paid = _balance(chain, bought, maker) - before[1]
    assert (paid, got) == (taking, 100 * E18 - remaining)

    block = chain.block(int(receipt["blockNumber"], 16))
    [swap] = analyze_block(block).swaps
    assert (swap.protocol, swap.pool) == ("1inch_limit_order", protocol)
    assert swap.tx_hash == receipt["transactionHash"].lower()
    assert (swap.sender, swap.recipient) == (taker, taker)
    assert (swap.token_in, swap.amount_in) == (bought, paid)
    assert (swap.token_out, swap.amount_out) == (sold, got)
    assert swap.router is None and swap.error is None
    # A lone fill is no MEV finding: the swap is recorded, nothing else is made of it.
    assert not [d for d in detect_block(block) if d.kind in {"sandwich", "arbitrage"}]
