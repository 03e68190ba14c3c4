"""Liquity V1 liquidations from the TroveManager's events.

Neither real data nor bytecode could be had here: no Liquity liquidation with receipts or traces is
in /work/shared or the public fixtures copied into tests/data, and Liquity's contracts are on no
npm package (``@liquity/lib-ethers`` carries ABIs and addresses only). So the logs below are
encoded from the exact ABI and mainnet addresses that package publishes
(tests/data/mev/liquity/, MIT): the event shape is Liquity's, the values are chosen here. This is
the "not testable on real data" case of docs/mev.md."""

from __future__ import annotations

import json
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak

from operators.mev import analyze_block, detect_block
from operators.mev.model import ETH
from operators.mev.protocols import liquity
from operators.records import Block, Receipt, Trace
from tests.operators.mev.conftest import DATA

PUBLISHED = json.loads((DATA / "liquity" / "lib-ethers-3.4.0.json").read_text())
ADDRESSES = {name: address.lower() for name, address in PUBLISHED["mainnet"].items()}
LIQUIDATOR = "0x" + "1b" * 20
BORROWERS = ("0x" + "b1" * 20, "0x" + "b2" * 20)
TX = "0x" + "ab" * 32
E18 = 10**18


def _event(contract: str, name: str) -> dict[str, Any]:
    [entry] = [e for e in PUBLISHED[contract] if e["name"] == name]
    return dict(entry)


def _log(address: str, contract: str, name: str, **values: Any) -> dict[str, Any]:
    """A log of the published event ``name``, as a node returns it."""
    inputs = _event(contract, name)["inputs"]
    signature = f"{name}({','.join(i['type'] for i in inputs)})"
    topics = ["0x" + keccak(text=signature).hex()]
    topics += [
        "0x" + encode([i["type"]], [values[i["name"]]]).hex() for i in inputs if i["indexed"]
    ]
    plain = [i for i in inputs if not i["indexed"]]
    data = encode([i["type"] for i in plain], [values[i["name"]] for i in plain])
    return {"address": address, "topics": topics, "data": "0x" + data.hex()}


def _batch_logs(trove_manager: str) -> list[dict[str, Any]]:
    """One ``liquidateTroves`` call over two troves, as Liquity logs it: a ``TroveLiquidated``
    per trove, the call's ``Liquidation`` totals, then the gas pool paying the caller 200 LUSD
    per trove."""
    troves = [(BORROWERS[0], 5_000 * E18, 3 * E18), (BORROWERS[1], 2_000 * E18, 1 * E18)]
    logs = [
        _log(trove_manager, "TroveManager", "TroveLiquidated",
             _borrower=b, _debt=d, _coll=c, _operation=1)
        for b, d, c in troves
    ]  # fmt: skip
    logs.append(
        _log(trove_manager, "TroveManager", "Liquidation",
             _liquidatedDebt=7_000 * E18, _liquidatedColl=4 * E18 * 995 // 1000,
             _collGasCompensation=4 * E18 // 200, _LUSDGasCompensation=400 * E18)
    )  # fmt: skip
    logs.append(
        _log(ADDRESSES["lusdToken"], "LUSDToken", "Transfer",
             **{"from": ADDRESSES["gasPool"], "to": LIQUIDATOR, "value": 400 * E18})
    )  # fmt: skip
    return [{**log, "log_index": i} for i, log in enumerate(logs)]


def _block(logs: list[dict[str, Any]], *, traced: bool) -> Block:
    call = function_signature_to_4byte_selector("liquidateTroves(uint256)") + encode(
        ["uint256"], [2]
    )
    trace = Trace(
        tx_hash=TX, tx_position=0, trace_address=(), type="call", call_type="call",
        sender=LIQUIDATOR, to=liquity.TROVE_MANAGER, value=0, gas=3_000_000,
        input="0x" + call.hex(), output="0x", gas_used=900_000, error=None, subtraces=0,
    )  # fmt: skip
    receipt = Receipt(
        tx_hash=TX, tx_index=0, status=1, gas_used=900_000, effective_gas_price=None,
        to=liquity.TROVE_MANAGER, logs=tuple(logs),
    )  # fmt: skip
    return Block(
        chain_id=1, number=19_000_000, hash="0x" + "cd" * 32, timestamp=0, miner=None,
        base_fee_per_gas=None, first_seen_ms=0, source="test", receipts=(receipt,),
        traces=(trace,) if traced else (), tx_hashes=(TX,),
    )  # fmt: skip


def test_the_module_reads_the_published_mainnet_contracts() -> None:
    assert ADDRESSES["troveManager"] == liquity.TROVE_MANAGER
    assert ADDRESSES["lusdToken"] == liquity.LUSD
    assert ADDRESSES["gasPool"] == liquity.GAS_POOL


def test_a_batch_liquidation_is_one_finding_per_trove() -> None:
    block = _block(_batch_logs(liquity.TROVE_MANAGER), traced=False)
    analysis = analyze_block(block)
    assert analysis.path == "logs"
    first, second = analysis.liquidations
    assert {first.protocol, second.protocol} == {"liquity"}
    assert (first.liquidated_user, second.liquidated_user) == BORROWERS
    assert {first.liquidator, second.liquidator} == {LIQUIDATOR}
    assert (first.debt_token, first.debt_amount) == (liquity.LUSD, 5_000 * E18)
    assert (second.debt_token, second.debt_amount) == (liquity.LUSD, 2_000 * E18)
    assert first.collateral_token == ETH
    # The call's ETH compensation (0.02 ETH), shared 3:1 like the troves' collateral.
    assert (first.received_token, first.received_amount) == (ETH, 15 * E18 // 1000)
    assert second.received_amount == 5 * E18 // 1000
    assert (first.trace_address, second.trace_address) == ((0,), (1,))
    findings = [d for d in detect_block(block) if d.kind == "liquidation"]
    assert {f.data["protocol"] for f in findings} == {"liquity"}
    assert len({f.key for f in findings}) == 2  # one natural key per trove


def test_on_the_trace_path_the_traces_alone_decide() -> None:
    """No Liquity trace parser (no bytecode to test one against): a traced block's receipts do
    not add findings (docs/mev.md)."""
    analysis = analyze_block(_block(_batch_logs(liquity.TROVE_MANAGER), traced=True))
    assert analysis.path == "traces"
    assert analysis.liquidations == []


def test_the_same_events_from_another_contract_are_not_liquity() -> None:
    fork = "0x" + "fe" * 20  # a fork's TroveManager: other debt token, other gas pool
    assert analyze_block(_block(_batch_logs(fork), traced=False)).liquidations == []


def test_without_the_gas_compensation_transfer_the_caller_is_the_liquidator() -> None:
    logs = _batch_logs(liquity.TROVE_MANAGER)[:-1]
    liquidations = analyze_block(_block(logs, traced=False)).liquidations
    assert [liq.liquidator for liq in liquidations] == [liquity.TROVE_MANAGER] * 2
