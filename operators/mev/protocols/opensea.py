"""OpenSea's Wyvern exchange (V1 and V2): ``atomicMatch_`` matches a buy order with a sell order
and is one NFT trade. The orders' addresses say who bought (the buy order's maker), who sold (the
sell order's maker), which contract the sale calls (the NFT collection) and the payment token
(zero: ETH). The token id is read from the NFT's own transfer inside the call (ERC-721
``transferFrom`` / ``safeTransferFrom``, ERC-1155 ``safeTransferFrom``, from the seller to the
buyer); the amount paid is what the exchange paid out in ETH (to the seller and the fee
recipient, a refund to the buyer left out), or the buyer's transfers of the ERC-20.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import decode
from eth_abi.exceptions import DecodingError

from operators.mev.model import ETH, Frame, NftTrade, Transfer
from operators.mev.protocols.spec import spec

PROTOCOL = "opensea"
EXCHANGES = frozenset(
    {
        "0x7be8076f4ea4a4ad08075c2508e481d6c946d12b",  # WyvernExchange (OpenSea V1)
        "0x7f268357a8c2552623316e2562d90e642bb538e5",  # WyvernExchangeWithBulkCancellations (V2)
    }
)
_ZERO = "0x" + "00" * 20
# NFT transfers: selector -> argument types (from, to, token id first).
_NFT_TRANSFERS = {
    "0x23b872dd": ["address", "address", "uint256"],  # ERC-721 transferFrom
    "0x42842e0e": ["address", "address", "uint256"],  # ERC-721 safeTransferFrom
    "0xb88d4fde": ["address", "address", "uint256", "bytes"],  # ERC-721 safeTransferFrom(data)
    "0xf242432a": ["address", "address", "uint256", "uint256", "bytes"],  # ERC-1155
}


def _token_id(frames: Sequence[Frame], collection: str, seller: str, buyer: str) -> int | None:
    for frame in frames:
        trace = frame.trace
        types = _NFT_TRANSFERS.get(trace.input[:10])
        if trace.to != collection or trace.call_type != "call" or types is None:
            continue
        try:
            sender, recipient, token_id, *_ = decode(types, bytes.fromhex(trace.input[10:]))
        except (DecodingError, OverflowError, ValueError):
            continue
        if (sender.lower(), recipient.lower()) == (seller, buyer):
            return int(token_id)
    return None


def _trade(
    frame: Frame, children: Sequence[Frame], transfers: Sequence[Transfer]
) -> NftTrade | None:
    addrs = [a.lower() for a in frame.args["addrs"]]
    buyer, collection, payment_token, seller = addrs[1], addrs[4], addrs[6], addrs[8]
    token_id = _token_id(children, collection, seller, buyer)
    if token_id is None:
        return None  # a bundle through the atomicizer, or not an NFT sale we can read
    exchange = frame.trace.to or ""
    if payment_token == _ZERO:
        payment_token = ETH
        paid = [t for t in transfers if t.token == ETH and t.sender == exchange]
        paid = [t for t in paid if t.recipient != buyer]
    else:
        paid = [t for t in transfers if t.token == payment_token and t.sender == buyer]
    return NftTrade(
        **frame.site(),
        protocol=PROTOCOL,
        seller=seller,
        buyer=buyer,
        collection=collection,
        token_id=token_id,
        payment_token=payment_token,
        payment_amount=sum(t.amount for t in paid),
    )


SPECS = [
    spec(
        PROTOCOL,
        "atomicMatch_(address[14] addrs,uint256[18] uints,uint8[8] feeMethodsSidesKindsHowToCalls,"
        "bytes calldataBuy,bytes calldataSell,bytes replacementPatternBuy,"
        "bytes replacementPatternSell,bytes staticExtradataBuy,bytes staticExtradataSell,"
        "uint8[2] vs,bytes32[5] rssMetadata)",
        "nft_trade",
        _trade,
        addresses=EXCHANGES,
    ),
]
