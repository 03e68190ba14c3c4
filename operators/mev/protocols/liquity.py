"""Liquity V1 liquidations, read from the TroveManager's events (the ABI published in npm
``@liquity/lib-ethers``): ``TroveLiquidated(borrower, debt, coll, operation)`` per trove, then one
``Liquidation(liquidatedDebt, liquidatedColl, collGasCompensation, LUSDGasCompensation)`` closing
each ``liquidate`` / ``liquidateTroves`` / ``batchLiquidateTroves`` call.

Liquity's liquidator repays nothing: the Stability Pool absorbs the trove's LUSD debt (or it is
redistributed to other troves) and the liquidator is paid a gas compensation, 0.5 % of the
collateral in ETH plus 200 LUSD per trove from the gas pool. So a finding's debt is the trove's
LUSD debt, and what it received is its share of the call's ETH compensation (pro rata to the
troves' collateral). The liquidator is whoever the gas pool paid the LUSD compensation to.

Only mainnet's TroveManager is read: forks emit the same events over other tokens. This is the
log path only (blocks classified from receipts): on the trace path the traces alone decide, and
no trace parser is written, as Liquity's contracts are not on npm (lib-ethers carries ABIs and
addresses only) to test one against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

from operators.mev.model import ETH, Liquidation

PROTOCOL = "liquity"
TROVE_MANAGER = "0xa39739ef8b0231dbfa0dcda07d7e29faabcf4bb2"
LUSD = "0x5f98805a4e8be255a32880fdec7f6728c6568ba0"
GAS_POOL = "0x9555b042f969e561855e5f28cb1230819149a8d9"
TROVE_LIQUIDATED = "0x" + keccak(b"TroveLiquidated(address,uint256,uint256,uint8)").hex()
LIQUIDATION = "0x" + keccak(b"Liquidation(uint256,uint256,uint256,uint256)").hex()
_TRANSFER = "0x" + keccak(b"Transfer(address,address,uint256)").hex()


def _words(log: dict[str, Any]) -> list[int]:
    try:
        data = bytes.fromhex(str(log.get("data") or "0x")[2:])
    except ValueError:
        return []
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data) - 31, 32)]


def _address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def _compensated(logs: Sequence[tuple[int, dict[str, Any]]], after: int) -> str | None:
    """The account the gas pool paid LUSD to after log ``after`` (the liquidator)."""
    for index, log in logs:
        topics: Sequence[str] = log.get("topics") or ()
        if index <= after or str(log.get("address")).lower() != LUSD or len(topics) != 3:
            continue
        if topics[0] == _TRANSFER and _address(topics[1]) == GAS_POOL:
            return _address(topics[2])
    return None


def tx_liquidations(
    logs: Sequence[tuple[int, dict[str, Any]]], tx_hash: str, position: int, caller: str
) -> list[Liquidation]:
    """Every trove one tx liquidated (``logs``: its ``(log index, log)`` pairs). ``caller``
    stands for the liquidator when no gas compensation transfer names it."""
    found: list[Liquidation] = []
    troves: list[tuple[int, str, int, int]] = []  # (log index, borrower, debt, coll)
    for index, log in logs:
        topics = log.get("topics")
        if not topics or str(log.get("address")).lower() != TROVE_MANAGER:
            continue
        words = _words(log)
        if topics[0] == TROVE_LIQUIDATED and len(topics) == 2 and len(words) >= 2:
            troves.append((index, _address(topics[1]), words[0], words[1]))
        elif topics[0] == LIQUIDATION and len(words) >= 3 and troves:
            liquidator = _compensated(logs, index) or caller
            total_coll = sum(coll for *_, coll in troves) or 1
            for at, borrower, debt, coll in troves:
                found.append(
                    Liquidation(
                        tx_hash=tx_hash,
                        tx_position=position,
                        trace_address=(at,),
                        protocol=PROTOCOL,
                        liquidated_user=borrower,
                        liquidator=liquidator,
                        debt_token=LUSD,
                        debt_amount=debt,
                        collateral_token=ETH,
                        received_token=ETH,
                        received_amount=words[2] * coll // total_coll,
                    )
                )
            troves = []
    return found
