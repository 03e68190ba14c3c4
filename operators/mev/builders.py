"""What a block's txs paid its builder (or, before the merge, its miner), and who that was.

A tx pays the fee recipient two ways: the priority fee, ``gas_used * (effective gas price - base
fee)`` from its receipt (the whole gas price before London), and direct ETH transfers to the
coinbase inside its calls (a searcher's bribe; frames that reverted paid nothing), as
mev-inspect-py's miner payments count them. The builder is named from the block's extraData or
fee recipient (``data/builders.json``); None when neither is known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import msgspec

from operators.mev.model import Frame
from operators.mev.protocols.spec import load_json
from operators.records import Block


class Payment(msgspec.Struct, frozen=True):
    """One tx's payment to the fee recipient; ``priority_fee`` is None without a usable receipt."""

    tx_hash: str
    tx_position: int
    coinbase_transfer: int
    priority_fee: int | None
    gas_used: int | None
    effective_gas_price: int | None

    @property
    def total(self) -> int:
        return self.coinbase_transfer + (self.priority_fee or 0)

    def to_data(self) -> dict[str, int | str | None]:
        return {
            "tx_hash": self.tx_hash,
            "tx_position": self.tx_position,
            "coinbase_transfer": self.coinbase_transfer,
            "priority_fee": self.priority_fee,
            "gas_used": self.gas_used,
            "effective_gas_price": self.effective_gas_price,
            "total": self.total,
        }


@dataclass(frozen=True)
class Builders:
    fee_recipients: Mapping[str, str]
    extra_data: Sequence[tuple[str, str]]

    def name(self, block: Block) -> str | None:
        text = extra_text(block.extra_data).lower()
        for needle, name in self.extra_data:
            if needle in text:
                return name
        return self.fee_recipients.get(block.miner or "")


@cache
def bundled_builders() -> Builders:
    raw = load_json("builders.json")
    return Builders(
        {k.lower(): v for k, v in raw["fee_recipients"].items()},
        tuple((needle.lower(), name) for needle, name in raw["extra_data"]),
    )


def extra_text(extra_data: str | None) -> str:
    """extraData as text (printable ASCII kept; builders write their name there)."""
    if not extra_data:
        return ""
    raw = bytes.fromhex(extra_data[2:])
    return "".join(chr(b) for b in raw if 32 <= b < 127).strip()


def coinbase_transfers(frames: Sequence[Frame], coinbase: str) -> int:
    """ETH a tx's calls sent to the coinbase and kept (reverted frames paid nothing)."""
    return sum(
        f.trace.value
        for f in frames
        if f.error is None
        and f.trace.type == "call"
        and f.trace.call_type in (None, "call")
        and f.trace.to == coinbase
        and f.trace.value > 0
    )


def block_payments(block: Block, frames_by_tx: Mapping[str, Sequence[Frame]]) -> list[Payment]:
    """Every tx's payment, in block order (from receipts, traces or both)."""
    coinbase = block.miner or ""
    positions: dict[str, int] = {}
    for frames in frames_by_tx.values():
        if frames and frames[0].trace.tx_position is not None:
            positions[frames[0].tx_hash] = frames[0].trace.tx_position
    receipts = {r.tx_hash: r for r in block.receipts}
    for r in block.receipts:
        positions.setdefault(r.tx_hash, r.tx_index)
    base_fee = block.base_fee_per_gas
    fees: dict[str, tuple[int | None, int | None, int | None]] = defaultdict(
        lambda: (None, None, None)
    )
    for tx_hash, r in receipts.items():
        price = r.effective_gas_price
        if price is None:
            continue
        tip = price - base_fee if base_fee else price
        fees[tx_hash] = (r.gas_used * max(tip, 0), r.gas_used, price)
    payments = [
        Payment(
            tx_hash,
            position,
            coinbase_transfers(frames_by_tx.get(tx_hash, ()), coinbase) if coinbase else 0,
            *fees[tx_hash],
        )
        for tx_hash, position in positions.items()
    ]
    payments.sort(key=lambda p: p.tx_position)
    return payments
