"""Balancer V3: every pool's tokens sit in one Vault (mainnet 0xba13...9ba9, the same address on
each chain; matched on any contract, as a test chain deploys it elsewhere), and a swap is
``Vault.swap(VaultSwapParams)`` made inside ``unlock`` by a router or any contract.

Like Uniswap V4 the tokens are settled later in the same ``unlock`` (the router pays the Vault
after the swap and has it ``sendTo`` the user), not around the call, so the swap is read from the
call itself: pool and tokens from its params, the amounts from what it returns
``(amountCalculated, amountIn, amountOut)``. The swapper is the contract that called ``swap``.
On the log path the Vault's ``Swap`` event carries the same pool, tokens and amounts; it does not
name the swapper, so the tx's ``to`` (the router or the searcher's contract, as on the trace path
when an account calls it directly) stands for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_hash.auto import keccak

from operators.mev.model import Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec

PROTOCOL = "balancer_v3"
VAULT = "0xba1333333333a1ba1108e8412f11850a5c319ba9"
SWAP = "0x" + keccak(b"Swap(address,address,address,uint256,uint256,uint256,uint256)").hex()


def _address(word: str | bytes) -> str:
    if isinstance(word, bytes):
        return "0x" + word[-20:].hex()
    return "0x" + word[-40:].lower()


def _swap(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    params, output = frame.args["params"], frame.trace.output
    if params is None or not output or len(output) != 2 + 3 * 64:
        return None  # reverted, or not the Vault's swap
    _, pool, token_in, token_out, _, _, _ = params
    try:
        amount_in, amount_out = int(output[66:130], 16), int(output[130:194], 16)
    except ValueError:  # a node's garbled output
        return None
    swapper = frame.trace.sender or ""
    return SwapEvent(
        **frame.site(),
        protocol=PROTOCOL,
        pool=pool.lower(),
        sender=swapper,
        recipient=swapper,
        token_in=token_in.lower(),
        amount_in=amount_in,
        token_out=token_out.lower(),
        amount_out=amount_out,
    )


def swap_from_log(
    log: dict[str, Any], tx_hash: str, position: int, index: int, swapper: str
) -> SwapEvent | None:
    """The swap of one Vault ``Swap`` log (else None)."""
    topics = log["topics"]
    data = bytes.fromhex((log.get("data") or "0x")[2:])
    if topics[0] != SWAP or len(topics) != 4 or len(data) < 64:
        return None
    return SwapEvent(
        tx_hash=tx_hash,
        tx_position=position,
        trace_address=(index,),
        protocol=PROTOCOL,
        pool=_address(topics[1]),
        sender=swapper,
        recipient=swapper,
        token_in=_address(topics[2]),
        amount_in=int.from_bytes(data[0:32], "big"),
        token_out=_address(topics[3]),
        amount_out=int.from_bytes(data[32:64], "big"),
    )


SPECS = [
    spec(
        PROTOCOL,
        "swap((uint8,address,address,address,uint256,uint256,bytes) params)",
        "swap",
        _swap,
    ),
]
