"""CoW Protocol batch settlements: each order a solver settles through ``GPv2Settlement`` is one
swap of the order's owner (``protocol: cow``, pool = the settlement contract); the batch is the
tx, all its trades share the tx hash. The AMM swaps a solver makes inside the batch are
classified separately, by their own protocols.

- **Traces**: ``settle(tokens, clearingPrices, trades, interactions)`` gives each trade's tokens
  and, with the clearing prices, its executed amounts (GPv2Settlement's own rule: a sell order
  sells its amount, or ``executedAmount`` if partially fillable, and buys
  ``sell * price[sell] / price[buy]`` rounded up; a buy order the other way round, rounded down;
  the fee is added to what is sold). The owner is the account the settlement's vault relayer
  pulled that amount of the sell token from: the in-transfers follow the trades' order. The
  swap's trace address is that pull's. The bought amount is the settlement's payout to the
  receiver where one is seen within a wei of the computed figure (the first GPv2Settlement
  deployment, 0x3328...faef, rounded it down), else the computed figure.
- **Logs**: the settlement's ``Trade`` event (owner, tokens, executed amounts, fee included),
  emitted before any token moves, so a trade is read from the event alone.

The order's receiver is the trade's ``receiver`` on the trace path (the owner when unset) and
the owner on the log path (the event does not name it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec

PROTOCOL = "cow"
# GPv2Settlement, the same address on every chain CoW Protocol runs on. Both paths match the
# settlement's function and event on any contract (as pool swaps are), so a fork or a devnet
# deployment is read too; the pool reported is the contract called or emitting.
SETTLEMENT = "0x9008d19f58aabd9ed0d60971565aa8510560ab41"
TRADE = "0x" + keccak(b"Trade(address,address,address,uint256,uint256,uint256,bytes)").hex()


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[32 * index : 32 * index + 32], "big")


def trade_swap(log: dict[str, Any], tx_hash: str, position: int, index: int) -> SwapEvent | None:
    """The swap of one settled order, from a ``Trade`` log of the settlement (else None)."""
    topics = log["topics"]
    if topics[0] != TRADE or len(topics) != 2:
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
        pool=str(log["address"]).lower(),
        sender=owner,
        recipient=owner,
        token_in=sell_token,
        amount_in=_word(data, 2),
        token_out=buy_token,
        amount_out=_word(data, 3),
    )


_ZERO = "0x" + "00" * 20
_KIND_BUY, _PARTIALLY_FILLABLE = 0x01, 0x02


def _executed(trade: tuple[Any, ...], sell_price: int, buy_price: int) -> tuple[int, int]:
    """(sold, fee included; bought) of one trade, as GPv2Settlement computes them."""
    _, _, _, sell_amount, buy_amount, _, _, fee_amount, flags, executed_amount, _ = trade
    partial = bool(flags & _PARTIALLY_FILLABLE)
    if flags & _KIND_BUY:
        bought = executed_amount if partial else buy_amount
        fee = fee_amount * bought // buy_amount if partial and buy_amount else fee_amount
        sold = bought * buy_price // sell_price
    else:
        sold = executed_amount if partial else sell_amount
        fee = fee_amount * sold // sell_amount if partial and sell_amount else fee_amount
        bought = -(-sold * sell_price // buy_price)
    return sold + fee, bought


def _settle(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> list[SwapEvent] | None:
    if frame.error is not None:
        return None  # a reverted batch settled nothing (its AMM legs carry the error)
    args = frame.args
    if any(args[name] is None for name in ("tokens", "clearingPrices", "trades")):
        return None  # dangling offsets: nothing to read the trades from
    settlement = frame.trace.to or ""
    tokens = [t.lower() for t in args["tokens"]]
    prices = args["clearingPrices"]
    pulls = [t for t in children if t.recipient == settlement and t.sender != settlement]
    payouts = [t for t in children if t.sender == settlement]
    swaps: list[SwapEvent] = []
    for trade in args["trades"]:
        sell_index, buy_index, receiver = trade[0], trade[1], trade[2].lower()
        if max(sell_index, buy_index) >= min(len(tokens), len(prices)):
            return None
        sell_token, buy_token = tokens[sell_index], tokens[buy_index]
        if sell_token == buy_token or not prices[sell_index] or not prices[buy_index]:
            return None
        sold, bought = _executed(trade, prices[sell_index], prices[buy_index])
        pull = next((t for t in pulls if t.token == sell_token and t.amount == sold), None)
        if pull is None:
            return None  # not an ERC-20 pull we can see (Balancer internal balances)
        pulls.remove(pull)
        owner = pull.sender
        recipient = owner if receiver == _ZERO else receiver
        # What the settlement paid out is the figure: the first GPv2 deployment rounded the
        # bought amount down where the current one rounds it up.
        payout = next(
            (
                t
                for t in payouts
                if t.token == buy_token and t.recipient == recipient and abs(t.amount - bought) <= 1
            ),
            None,
        )
        if payout is not None:
            payouts.remove(payout)
            bought = payout.amount
        swaps.append(
            SwapEvent(
                tx_hash=frame.tx_hash,
                tx_position=frame.trace.tx_position or 0,
                trace_address=pull.trace_address,
                protocol=PROTOCOL,
                pool=settlement,
                sender=owner,
                recipient=recipient,
                token_in=sell_token,
                amount_in=sold,
                token_out=buy_token,
                amount_out=bought,
            )
        )
    return swaps


SPECS = [
    spec(
        PROTOCOL,
        "settle(address[] tokens,uint256[] clearingPrices,"
        "(uint256,uint256,address,uint256,uint256,uint32,bytes32,uint256,uint256,uint256,bytes)[]"
        " trades,(address,uint256,bytes)[][3] interactions)",
        "swap",
        _settle,
    ),
]
