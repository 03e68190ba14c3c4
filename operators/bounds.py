"""Range checks on values from outside, applied where they enter (sources and normalize).

A value out of its range is corruption or abuse, never data worth keeping in a record: the item
becomes a dead letter with the reason (``timestamp out of range: ...``, ``chain id out of
range: ...``), before it can reach a window's clock or a sink's column. docs/robustness.md says
why each field is dead-lettered rather than clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

# When each chain's first block was made (unix ms, a day early); an item first seen before its
# chain existed is not a recording of it. Other chains (devnets, Anvil) fall back to Ethereum's.
GENESIS_MS = {
    1: 1_438_214_400_000,  # Ethereum mainnet, 2015-07-30
    10: 1_610_582_400_000,  # Optimism (legacy chain), 2021-01-14
    42161: 1_622_160_000_000,  # Arbitrum One, 2021-05-28
    8453: 1_686_700_800_000,  # Base, 2023-06-14
}
EARLIEST_MS = GENESIS_MS[1]

# How far ahead of this machine's clock a first-seen time or block timestamp may be
# (SCORPIUS_LIMITS_MAX_CLOCK_SKEW_S): an L2 sequencer or a peer's clock runs a little ahead.
MAX_CLOCK_SKEW_MS = 300_000

# EIP-2294: the largest chain id a signature can carry.
MAX_CHAIN_ID = (1 << 63) - 1 - 36
# EIP-1985 / EIP-2681: block numbers below 2**63, nonces below 2**64 - 1, gas in a uint64.
MAX_BLOCK_NUMBER = (1 << 63) - 1
MAX_NONCE = (1 << 64) - 2
MAX_GAS = (1 << 64) - 1
# A block holds far fewer txs than this; the index is a UInt32 column in ClickHouse.
MAX_TX_INDEX = (1 << 32) - 1


@dataclass(frozen=True)
class TimeBounds:
    """The window a first-seen time or block timestamp must fall in: from its chain's genesis to
    ``now + max_skew_ms``."""

    max_skew_ms: int = MAX_CLOCK_SKEW_MS

    def reason(self, what: str, chain_id: int, at_ms: int, now_ms: int) -> str | None:
        """Why ``at_ms`` cannot be an event time on ``chain_id`` (None when it can)."""
        earliest = GENESIS_MS.get(chain_id, EARLIEST_MS)
        if at_ms < earliest:
            return f"timestamp out of range: {what} {at_ms} is before chain {chain_id}'s genesis"
        latest = now_ms + self.max_skew_ms
        if at_ms > latest:
            return (
                f"timestamp out of range: {what} {_show_int(at_ms)} is more than "
                f"{self.max_skew_ms // 1000} s ahead of now ({now_ms})"
            )
        return None


def chain_id_reason(chain_id: object) -> str | None:
    """Why ``chain_id`` (from a source or a header) is not a chain id (None when it is)."""
    if type(chain_id) is not int or not 1 <= chain_id <= MAX_CHAIN_ID:
        return f"chain id out of range: {_show_int(chain_id)}"
    return None


def safe_chain_id(chain_id: object) -> int | None:
    """``chain_id`` when it is one, else None: what a dead letter of a bad item may carry."""
    return chain_id if chain_id_reason(chain_id) is None else None  # type: ignore[return-value]


def _show_int(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"
