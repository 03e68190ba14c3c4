"""CoW Protocol batch settlements: each order a solver settles through ``GPv2Settlement`` is one
swap of the order's owner, read from the settlement's ``Trade`` event (the order's executed sell
amount, fee included, and buy amount). The batch is the tx: all its trades share the tx hash.

The settlement emits every ``Trade`` before it moves any tokens, so a trade is read from the
event alone (not from the transfers around it, as pool swaps are). The event does not name the
order's receiver: the owner is reported as both sender and recipient. The AMM swaps a solver
makes inside the batch are classified separately, by their own protocols.
"""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak

from operators.mev.model import SwapEvent

PROTOCOL = "cow"
# GPv2Settlement, the same address on every chain CoW Protocol runs on.
SETTLEMENT = "0x9008d19f58aabd9ed0d60971565aa8510560ab41"
TRADE = "0x" + keccak(b"Trade(address,address,address,uint256,uint256,uint256,bytes)").hex()


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[32 * index : 32 * index + 32], "big")


def trade_swap(log: dict[str, Any], tx_hash: str, position: int, index: int) -> SwapEvent | None:
    """The swap of one settled order, from a ``Trade`` log of the settlement (else None)."""
    topics = log["topics"]
    if topics[0] != TRADE or log["address"] != SETTLEMENT or len(topics) != 2:
        return None
    data = bytes.fromhex((log.get("data") or "0x")[2:])
    if len(data) < 160:
        return None
    owner = "0x" + topics[1][-40:].lower()
    sell_token = "0x" + data[12:32].hex()
    buy_token = "0x" + data[44:64].hex()
    if sell_token == buy_token:
        return None
    return SwapEvent(
        tx_hash=tx_hash,
        tx_position=position,
        trace_address=(index,),
        protocol=PROTOCOL,
        pool=SETTLEMENT,
        sender=owner,
        recipient=owner,
        token_in=sell_token,
        amount_in=_word(data, 2),
        token_out=buy_token,
        amount_out=_word(data, 3),
    )
