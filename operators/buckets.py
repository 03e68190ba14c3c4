"""Window keys that group many addresses into a few windows per chain.

Bytewax copies and pickles the state of every window at each epoch's end, whether recovery is on
or not, and each window carries its own clock and session bookkeeping. Keyed by sender or target
contract, a busy chain holds hundreds of thousands of windows and every epoch's end stalls the
flow for a second or more. A few dozen buckets per chain keep that cost fixed while still
spreading a chain's work over workers; the detectors key their own state by address inside.
"""

from __future__ import annotations

import zlib

# Windows per chain; a worker count above this gains nothing for these steps.
BUCKETS = 64


def address_bucket(chain_id: int, address: str | None) -> str:
    """``chain:bucket`` for an address; the same in every process (no per-process hash seed),
    since bytewax routes a key to its worker by the key's text."""
    if not address:
        return f"{chain_id}:-"
    return f"{chain_id}:{zlib.crc32(address.lower().encode()) % BUCKETS}"
