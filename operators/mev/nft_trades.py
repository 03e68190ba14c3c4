"""NFT trades of a block: each outermost successful marketplace match (protocols/opensea.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from operators.mev.liquidations import tx_calls
from operators.mev.model import Frame, NftTrade


def block_nft_trades(frames_by_tx: Mapping[str, Sequence[Frame]]) -> list[NftTrade]:
    found: list[NftTrade] = [
        t for frames in frames_by_tx.values() for t in tx_calls(frames, "nft_trade")
    ]
    found.sort(key=lambda t: (t.tx_position, t.trace_address))
    return found
