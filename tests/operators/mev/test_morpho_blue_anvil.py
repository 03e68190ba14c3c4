"""Morpho Blue liquidations on a real Anvil node running Morpho Blue's own published code (npm
``@morpho-org/morpho-blue`` 1.0.0, GPL-2.0-or-later / BUSL-1.1, compiled in the session with the
solc 0.8.19 its pragma pins; both installed by tests/services/install_morpho_blue.sh): Morpho and
the package's ERC20Mock, OracleMock and IrmMock. No real mainnet Morpho liquidation with traces or
receipts could be had here, so this is the Anvil case of docs/mev.md. The block goes through the
flow's normalizer (body, receipts, ``trace_block``) and the block detector."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import keccak

from operators.mev import analyze_block, detect_block
from operators.mev.block import analyze_block_logs
from tests.operators.mev.anvil_chain import Chain
from tests.services.anvil import StartAnvil
from tests.services.solc import Compiled, compile_sources

pytestmark = pytest.mark.service

PREFIX = Path.home() / ".cache/scorpius/morpho-blue/node_modules"
SOURCE = PREFIX / "@morpho-org/morpho-blue/src"
PARAMS = "(address,address,address,address,uint256)"
WAD = 10**18
LIQUIDATE = keccak(
    text="Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)"
)


def _contracts() -> dict[str, Compiled]:
    if not (SOURCE / "Morpho.sol").is_file() or not (PREFIX / "solc/package.json").is_file():
        pytest.fail(f"{SOURCE} or solc 0.8.19 missing: run tests/services/install_morpho_blue.sh")
    root = SOURCE.parent
    sources = {str(p.relative_to(root)): p.read_text() for p in SOURCE.rglob("*.sol")}
    units = compile_sources(sources, PREFIX / "solc")
    return {
        name: units[f"src/{unit}"][name]
        for unit, name in [
            ("Morpho.sol", "Morpho"),
            ("mocks/ERC20Mock.sol", "ERC20Mock"),
            ("mocks/OracleMock.sol", "OracleMock"),
            ("mocks/IrmMock.sol", "IrmMock"),
        ]
    }


def test_a_morpho_blue_liquidation_is_classified(anvil_nodes: StartAnvil) -> None:
    code = _contracts()
    chain = Chain(anvil_nodes())
    lender, borrower = chain.accounts[0], chain.accounts[1]
    morpho = chain.deploy(code["Morpho"].bytecode, ["address"], [lender])
    loan, collateral = (chain.deploy(code["ERC20Mock"].bytecode, [], []) for _ in range(2))
    oracle = chain.deploy(code["OracleMock"].bytecode, [], [])
    irm = chain.deploy(code["IrmMock"].bytecode, [], [])
    lltv = 8 * WAD // 10
    params = (loan, collateral, oracle, irm, lltv)
    chain.call(oracle, "setPrice(uint256)", ["uint256"], [10**36])  # 1 collateral = 1 loan
    chain.call(morpho, "enableIrm(address)", ["address"], [irm])
    chain.call(morpho, "enableLltv(uint256)", ["uint256"], [lltv])
    chain.call(morpho, f"createMarket({PARAMS})", [PARAMS], [params])
    for token, owner in ((loan, lender), (collateral, borrower)):
        chain.call(token, "setBalance(address,uint256)", ["address", "uint256"], [owner, 10**24])
        chain.call(
            token, "approve(address,uint256)", ["address", "uint256"], [morpho, 2**255], owner
        )
    chain.call(
        morpho,
        f"supply({PARAMS},uint256,uint256,address,bytes)",
        [PARAMS, "uint256", "uint256", "address", "bytes"],
        [params, 1000 * WAD, 0, lender, b""],
    )
    chain.call(
        morpho,
        f"supplyCollateral({PARAMS},uint256,address,bytes)",
        [PARAMS, "uint256", "address", "bytes"],
        [params, 1000 * WAD, borrower, b""],
        borrower,
    )
    chain.call(
        morpho,
        f"borrow({PARAMS},uint256,uint256,address,address)",
        [PARAMS, "uint256", "uint256", "address", "address"],
        [params, 700 * WAD, 0, borrower, borrower],
        borrower,
    )
    chain.call(oracle, "setPrice(uint256)", ["uint256"], [10**36 // 2])  # now unhealthy
    seized = 100 * WAD
    receipt = chain.call(
        morpho,
        f"liquidate({PARAMS},address,uint256,uint256,bytes)",
        [PARAMS, "address", "uint256", "uint256", "bytes"],
        [params, borrower, seized, 0, b""],
    )
    [event] = [log for log in receipt["logs"] if log["topics"][0] == "0x" + LIQUIDATE.hex()]
    repaid = int(event["data"][2:66], 16)  # repaidAssets, Morpho's own figure

    block = chain.block(int(receipt["blockNumber"], 16))
    [liquidation] = analyze_block(block).liquidations
    assert liquidation.protocol == "morpho_blue"
    assert liquidation.tx_hash == receipt["transactionHash"].lower()
    assert (liquidation.liquidator, liquidation.liquidated_user) == (lender, borrower)
    assert (liquidation.debt_token, liquidation.debt_amount) == (loan, repaid)
    assert liquidation.collateral_token == collateral
    assert (liquidation.received_token, liquidation.received_amount) == (collateral, seized)
    assert liquidation.error is None
    # Collateral at half price with a liquidation bonus: less loan paid than collateral got.
    assert 0 < repaid < seized // 2
    [finding] = [d for d in detect_block(block) if d.kind == "liquidation"]
    assert finding.data["protocol"] == "morpho_blue"
    assert finding.tx_hashes == (liquidation.tx_hash,)
    # A node without trace_block: the same liquidation from the receipts' Liquidate event.
    [from_logs] = analyze_block_logs(block).liquidations
    assert from_logs.protocol == "morpho_blue"
    assert (from_logs.liquidator, from_logs.liquidated_user) == (lender, borrower)
    assert (from_logs.debt_token, from_logs.debt_amount) == (loan, repaid)
    assert (from_logs.received_token, from_logs.received_amount) == (collateral, seized)
