"""Balancer V3 swaps on a real Anvil node running Balancer V3's own published code: npm
``@balancer-labs/v3-vault`` 1.0.0 (Vault, VaultExtension, VaultAdmin, ProtocolFeeController,
Router; GPL-3.0) and ``@balancer-labs/v3-pool-weighted`` 1.0.0 (WeightedPool), compiled in the
session with npm ``solc`` 0.8.26 (the packages ship sources only). The Router pulls tokens through
Permit2, which with solmate's MockERC20 comes from the copy npm ``@uniswap/v4-periphery`` 1.0.3
ships (compiled with the solc 0.8.17 its pragma pins). All installed by
tests/services/install_balancer_v3.sh. No real mainnet Balancer V3 swap with traces or receipts
could be had here, so this is the Anvil case of docs/mev.md. The block goes through the flow's
normalizer (body, receipts, ``trace_block``), then both the trace path and the log path."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address
from web3.types import Nonce
from web3.utils.address import get_create_address

from operators.mev import analyze_block
from operators.mev.block import analyze_block_logs
from tests.operators.mev.anvil_chain import Chain
from tests.services.anvil import StartAnvil
from tests.services.solc import Compiled, compile_sources, import_closure

pytestmark = pytest.mark.service

ROOT = Path.home() / ".cache/scorpius/balancer-v3"
MODULES = ROOT / "node_modules"
PERMIT2 = MODULES / "@uniswap/v4-periphery/lib/permit2"
VAULT = "@balancer-labs/v3-vault/contracts/"
POOL = "@balancer-labs/v3-pool-weighted/contracts/WeightedPool.sol"
SWAP_EVENT = (
    "0x" + keccak(text="Swap(address,address,address,uint256,uint256,uint256,uint256)").hex()
)
E18 = 10**18
TOKEN_CONFIG = "(address,uint8,address,bool)[]"
POOL_PARAMS = "(string,string,uint256,uint256[],string,uint256[])"


def _locate(unit: str) -> Path:
    for prefix, root in (("permit2/", PERMIT2), ("solmate/", PERMIT2 / "lib/solmate")):
        if unit.startswith(prefix):
            return root / unit.removeprefix(prefix)
    return MODULES / unit


def _contracts() -> dict[str, Compiled]:
    if (
        not (MODULES / VAULT / "Vault.sol").is_file()
        or not (ROOT / "permit2/node_modules/solc").is_dir()
    ):
        pytest.fail(f"{ROOT} incomplete: run tests/services/install_balancer_v3.sh")
    balancer = [
        *(VAULT + f"{name}.sol" for name in ("Vault", "VaultExtension", "VaultAdmin", "Router")),
        VAULT + "ProtocolFeeController.sol",
        POOL,
    ]
    units = compile_sources(import_closure(balancer, _locate), MODULES / "solc", balancer)
    helpers = ["permit2/src/Permit2.sol", "solmate/src/test/utils/mocks/MockERC20.sol"]
    units |= compile_sources(
        import_closure(helpers, _locate), ROOT / "permit2/node_modules/solc", helpers, via_ir=True
    )  # Permit2 is built via IR, as Uniswap builds it
    return {
        name: contract
        for unit in units.values()
        for name, contract in unit.items()
        if contract.bytecode
    }


def test_a_balancer_v3_swap_through_the_router_is_classified(anvil_nodes: StartAnvil) -> None:
    code = _contracts()
    # The Vault, its extension and the Router are over EIP-170's 24 KiB as solc 0.8.26 builds
    # them without Balancer's via-IR settings.
    chain = Chain(anvil_nodes(extra_args=["--disable-code-size-limit"]))
    me, authorizer = chain.accounts[0], chain.accounts[9]
    # The Vault checks at construction that its extension, admin and fee controller name it:
    # deploy them first, at the Vault's address-to-be.
    nonce = int(chain.node.rpc("eth_getTransactionCount", me, "latest"), 16)
    vault = get_create_address(to_checksum_address(me), Nonce(nonce + 3)).lower()
    admin = chain.deploy(
        code["VaultAdmin"].bytecode,
        ["address", "uint32", "uint32", "uint256", "uint256"],
        [vault, 0, 0, 10**6, 10**4],
    )
    extension = chain.deploy(
        code["VaultExtension"].bytecode, ["address", "address"], [vault, admin]
    )
    fees = chain.deploy(
        code["ProtocolFeeController"].bytecode, ["address", "uint256", "uint256"], [vault, 0, 0]
    )
    assert (
        chain.deploy(
            code["Vault"].bytecode, ["address", "address", "address"], [extension, authorizer, fees]
        )
        == vault
    )
    permit2 = chain.deploy(code["Permit2"].bytecode, [], [])
    router = chain.deploy(
        code["Router"].bytecode,
        ["address", "address", "address", "string"],
        [vault, "0x" + "00" * 20, permit2, "Router v1"],
    )
    tokens = sorted(
        chain.deploy(code["MockERC20"].bytecode, ["string", "string", "uint8"], [n, n, 18])
        for n in ("AAA", "BBB")
    )
    for token in tokens:
        chain.call(token, "mint(address,uint256)", ["address", "uint256"], [me, 10**30])
        chain.call(token, "approve(address,uint256)", ["address", "uint256"], [permit2, 2**255])
        chain.call(
            permit2,
            "approve(address,address,uint160,uint48)",
            ["address", "address", "uint160", "uint48"],
            [token, router, 2**160 - 1, 2**48 - 1],
        )
    pool = chain.deploy(
        code["WeightedPool"].bytecode,
        [POOL_PARAMS, "address"],
        [("50/50", "B-50-50", 2, [E18 // 2, E18 // 2], "1", [10**6, 10**6]), vault],
    )
    chain.call(
        vault,
        f"registerPool(address,{TOKEN_CONFIG},uint256,uint32,bool,(address,address,address),"
        "address,(bool,bool,bool,bool))",
        [
            "address", TOKEN_CONFIG, "uint256", "uint32", "bool", "(address,address,address)",
            "address", "(bool,bool,bool,bool)",
        ],
        [
            pool, [(t, 0, "0x" + "00" * 20, False) for t in tokens], E18 // 100, 0, False,
            ("0x" + "00" * 20,) * 3, "0x" + "00" * 20, (False, False, False, False),
        ],
    )  # fmt: skip
    chain.call(
        router,
        "initialize(address,address[],uint256[],uint256,bool,bytes)",
        ["address", "address[]", "uint256[]", "uint256", "bool", "bytes"],
        [pool, tokens, [1000 * E18, 1000 * E18], 0, False, b""],
    )
    amount_in = 10 * E18
    receipt = chain.call(
        router,
        "swapSingleTokenExactIn(address,address,address,uint256,uint256,uint256,bool,bytes)",
        ["address", "address", "address", "uint256", "uint256", "uint256", "bool", "bytes"],
        [pool, tokens[0], tokens[1], amount_in, 0, 2**255, False, b""],
    )
    # What the Vault itself reports: its Swap event.
    [event] = [log for log in receipt["logs"] if log["topics"][0] == SWAP_EVENT]
    assert event["address"].lower() == vault
    amount_out = int(event["data"][66:130], 16)
    assert 0 < amount_out < amount_in  # a 50/50 pool at par, less the 1 % fee and the slippage

    block = chain.block(int(receipt["blockNumber"], 16))
    for found in (analyze_block(block).swaps, analyze_block_logs(block).swaps):
        [swap] = found
        assert swap.protocol == "balancer_v3"
        assert swap.tx_hash == receipt["transactionHash"].lower()
        assert swap.pool == pool
        assert (swap.sender, swap.recipient) == (router, router)
        assert (swap.token_in, swap.amount_in) == (tokens[0], amount_in)
        assert (swap.token_out, swap.amount_out) == (tokens[1], amount_out)
        assert swap.error is None
