"""The shape of protocol knowledge: which function, on which contracts, means what.

Each protocol module exports ``SPECS``, a list of ``CallSpec``. The classifier tries the specs of a
call's selector in registry order and takes the first whose address filter admits the callee and
whose arguments decode. ``parse`` depends on the role:

- ``transfer``:    ``parse(frame) -> Transfer | None``
- ``swap``:        ``parse(frame, prior_transfers, child_transfers) -> SwapEvent | None`` (or a
  list of them: a batch settling several orders in one call)
- ``liquidation``: ``parse(frame, child_frames, child_transfers) -> Liquidation | None``
- ``seize``:       no parser; marks the collateral seizure inside a Compound-style liquidation.
- ``nft_trade``:   ``parse(frame, child_frames, child_transfers) -> NftTrade | None``
- ``router``:      no parser; an aggregator's entry point, named on the swaps made under it
  (``aggregators.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from operators.abi_decoding import Function
from operators.mev.model import ETH, Frame, SwapEvent, Transfer

Role = Literal["transfer", "swap", "liquidation", "seize", "nft_trade", "router"]


@dataclass(frozen=True)
class CallSpec:
    protocol: str | None
    function: Function
    role: Role
    parse: Callable[..., Any] | None = None
    # None: any contract (the function's selector is distinctive enough, e.g. a pool's swap).
    addresses: frozenset[str] | None = None


def spec(
    protocol: str | None,
    signature: str,
    role: Role,
    parse: Callable[..., Any] | None = None,
    addresses: Iterable[str] | None = None,
) -> CallSpec:
    allowed = frozenset(a.lower() for a in addresses) if addresses is not None else None
    return CallSpec(protocol, Function.parse(signature), role, parse, allowed)


def load_json(name: str) -> Any:
    """A data file shipped in ``operators/mev/data``."""
    return json.loads(resources.files("operators.mev").joinpath("data", name).read_text())


def only(
    transfers: Sequence[Transfer], *, recipient: str | None = None, sender: str | None = None
) -> list[Transfer]:
    return [
        t
        for t in transfers
        if (recipient is None or t.recipient == recipient)
        and (sender is None or t.sender == sender)
    ]


def eth_transfer(frame: Frame) -> Transfer:
    trace = frame.trace
    return Transfer(
        frame.tx_hash, trace.trace_address, trace.sender or "", trace.to or "", ETH, trace.value
    )


def swap_from_pool_transfers(
    frame: Frame,
    protocol: str,
    recipient: str,
    prior: Sequence[Transfer],
    children: Sequence[Transfer],
    *,
    pool: str | None = None,
    custody: str | None = None,
) -> SwapEvent | None:
    """A swap read off the token movements around a pool call.

    What went in: ETH sent with the call, else the last transfer to the pool before the call
    (the Uniswap V2 pattern: pay first, then call ``swap``), else one paid during the call
    (callbacks, ``transferFrom`` pulls). What came out: the single transfer from the pool to the
    recipient inside the call. ``custody`` is the address holding the tokens when it is not the
    pool itself (Balancer V2's vault); ``pool`` is what the swap reports as its pool.
    """
    holder = custody or frame.trace.to or ""
    if frame.trace.value > 0:
        paid_in = [eth_transfer(frame)]
    else:
        paid_in = only(prior, recipient=holder) or only(children, recipient=holder)
    if not paid_in:
        return None
    paid_out = only(children, recipient=recipient, sender=holder)
    if len(paid_out) != 1:
        return None
    transfer_in, transfer_out = paid_in[-1], paid_out[0]
    if transfer_in.token == transfer_out.token:
        return None
    return swap_between(frame, protocol, pool or holder, transfer_in, transfer_out)


def swap_between(
    frame: Frame, protocol: str, pool: str, transfer_in: Transfer, transfer_out: Transfer
) -> SwapEvent:
    """The swap in which ``transfer_in`` paid for ``transfer_out``."""
    return SwapEvent(
        **frame.site(),
        protocol=protocol,
        pool=pool,
        sender=transfer_in.sender,
        recipient=transfer_out.recipient,
        token_in=transfer_in.token,
        amount_in=transfer_in.amount,
        token_out=transfer_out.token,
        amount_out=transfer_out.amount,
    )


def first_from(transfers: Sequence[Transfer], sender: str) -> Transfer | None:
    return next((t for t in transfers if t.sender == sender), None)


def first_to(transfers: Sequence[Transfer], recipient: str) -> Transfer | None:
    return next((t for t in transfers if t.recipient == recipient), None)


def swap_from_recipient_transfers(
    frame: Frame,
    protocol: str,
    recipient: str,
    prior: Sequence[Transfer],
    children: Sequence[Transfer],
    *,
    pool: str,
) -> SwapEvent | None:
    """A swap read off what one account paid and got back, for routers that never hold the
    tokens (Bancor's network: the caller pays the first converter, the last one pays back).

    The account must have made exactly one transfer (before or during the call) and received
    exactly one during it; anything else is not a swap we can read.
    """
    paid = only([*prior, *children], sender=recipient)
    received = only(children, recipient=recipient)
    if len(paid) != 1 or len(received) != 1 or paid[0].token == received[0].token:
        return None
    transfer_in, transfer_out = paid[0], received[0]
    return swap_between(frame, protocol, pool, transfer_in, transfer_out)
