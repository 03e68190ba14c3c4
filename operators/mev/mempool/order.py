"""Where a pending tx is expected to land relative to others: block builders order by tip, and
ties by arrival (geth's pool does the same), so (higher tip, earlier first seen) comes first."""

from __future__ import annotations

from operators.records import Tx


def block_order(tx: Tx) -> tuple[int, int, str]:
    return (-tx.tip_cap, tx.first_seen_ms, tx.hash)
