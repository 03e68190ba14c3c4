"""What the block classifiers produce: calls, transfers, swaps and liquidations of one block.

These are internal to ``operators.mev`` (the flow only sees ``Detection`` records); they carry the
tx position and trace address of the call they came from, so findings point at exact frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

import msgspec

from operators.records import Trace

if TYPE_CHECKING:
    from operators.mev.protocols.spec import CallSpec

# Native ETH in token fields (the convention of mev-inspect-py and most MEV datasets).
ETH = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"


class FrameSite(TypedDict):
    """Where an event read off one frame ran, and its effective error: the fields every
    swap, liquidation and trade built from a frame starts with."""

    tx_hash: str
    tx_position: int
    trace_address: tuple[int, ...]
    error: str | None


class Frame(msgspec.Struct, frozen=True):
    """One call frame of a transaction with what the classifier made of it.

    ``error`` is the frame's effective error: its own, or else the nearest reverted ancestor's
    (a frame inside a reverted call did not happen either). ``spec`` and ``args`` are set when the
    call matched a known protocol function.
    """

    trace: Trace
    error: str | None
    spec: CallSpec | None = None
    args: dict[str, Any] = {}
    # Trace addresses of the frames on this frame's path (itself included) that reverted.
    reverts: tuple[tuple[int, ...], ...] = ()

    @property
    def tx_hash(self) -> str:
        return self.trace.tx_hash or ""

    @property
    def address(self) -> tuple[int, ...]:
        return self.trace.trace_address

    def site(self) -> FrameSite:
        return FrameSite(
            tx_hash=self.tx_hash,
            tx_position=self.trace.tx_position or 0,
            trace_address=self.address,
            error=self.error,
        )

    def happened_within(self, context: Frame) -> bool:
        """Whether this frame's effects count for ``context`` (a swap or liquidation call).

        For a call that went through, only what really happened: nothing on this frame's path
        reverted. A reverted call is an attempt, read from everything it tried (that is how a
        reverted arbitrage is still reported, with its error).
        """
        return context.error is not None or not self.reverts

    @property
    def role(self) -> str | None:
        return self.spec.role if self.spec is not None else None

    @property
    def protocol(self) -> str | None:
        return self.spec.protocol if self.spec is not None else None


class Transfer(msgspec.Struct, frozen=True):
    tx_hash: str
    trace_address: tuple[int, ...]
    sender: str
    recipient: str
    token: str
    amount: int


class CallEvent(msgspec.Struct, frozen=True):
    """Where a classified call ran in its block, and the protocol whose interface it used."""

    tx_hash: str
    tx_position: int
    trace_address: tuple[int, ...]
    protocol: str


def block_position(event: CallEvent) -> tuple[int, tuple[int, ...]]:
    """Where a call ran: block order sorts on it."""
    return (event.tx_position, event.trace_address)


class SwapEvent(CallEvent, frozen=True):
    """A swap that executed (or reverted, see ``error``) in a block, from one pool call."""

    pool: str
    sender: str
    recipient: str
    token_in: str
    amount_in: int
    token_out: str
    amount_out: int
    error: str | None = None
    # Who deployed the pool when its address says so (``sushiswap`` for a SushiSwap pair whose
    # interface, ``protocol``, is ``uniswap_v2``); None when unknown.
    exchange: str | None = None
    # Uniswap V4: the hooks contract of the pool's key (None: no hooks, or another protocol).
    hooks: str | None = None
    # The aggregator whose call made this pool call (``1inch``, ``0x``, ``0x_settler``, ...;
    # protocols/aggregators.py); None when the pool was called without one.
    router: str | None = None

    def to_data(self) -> dict[str, Any]:
        hooks = {"hooks": self.hooks} if self.hooks is not None else {}
        router = {"router": self.router} if self.router is not None else {}
        return {
            "tx_hash": self.tx_hash,
            "tx_position": self.tx_position,
            "trace_address": list(self.trace_address),
            "protocol": self.protocol,
            "exchange": self.exchange,
            "pool": self.pool,
            "sender": self.sender,
            "recipient": self.recipient,
            "token_in": self.token_in,
            "amount_in": self.amount_in,
            "token_out": self.token_out,
            "amount_out": self.amount_out,
            "error": self.error,
            **hooks,
            **router,
        }


class Liquidation(CallEvent, frozen=True):
    liquidated_user: str
    liquidator: str
    debt_token: str
    debt_amount: int
    collateral_token: str
    received_token: str
    received_amount: int
    error: str | None = None
    # Collateral the protocol itself took when the liquidator is not paid in it (Compound V3's
    # absorb: the Comet keeps it and sells it later through buyCollateral); None elsewhere.
    seized_amount: int | None = None


class NftTrade(msgspec.Struct, frozen=True):
    """One NFT sold on a marketplace (OpenSea's Wyvern ``atomicMatch_``): which token went from
    the seller to the buyer, and what the buyer paid (ETH or an ERC-20)."""

    tx_hash: str
    tx_position: int
    trace_address: tuple[int, ...]
    protocol: str
    seller: str
    buyer: str
    collection: str
    token_id: int
    payment_token: str
    payment_amount: int
    error: str | None = None
