"""Uniswap V4: every pool lives in one PoolManager, so a swap is ``PoolManager.swap(key, params,
hookData)`` and its pool is the id ``keccak256(abi.encode(key))``, the id V4's ``Swap`` events
carry.

Tokens are settled later in the same ``unlock`` (flash accounting), not around the call, so the
swap is read from the ``BalanceDelta`` it returns: two int128 packed in an int256, currency0's
in the high half, negative for what the swapper owes (its input), positive for what it gets. The
pool key names the hooks contract; the swapper is the contract that called ``swap`` (a router).
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import encode
from eth_utils import keccak

from operators.mev.model import ETH, Frame, SwapEvent, Transfer
from operators.mev.protocols.spec import spec

NATIVE = "0x0000000000000000000000000000000000000000"
NO_HOOKS = NATIVE


def pool_id(key: tuple[str, str, int, int, str]) -> str:
    currency0, currency1, fee, tick_spacing, hooks = key
    encoded = encode(
        ["address", "address", "uint24", "int24", "address"],
        [currency0, currency1, fee, tick_spacing, hooks],
    )
    return "0x" + keccak(encoded).hex()


def _int128(word: int) -> int:
    return word - (1 << 128) if word >= 1 << 127 else word


def balance_delta(output: str | None) -> tuple[int, int] | None:
    """(amount0, amount1) of a returned BalanceDelta; None when the call returned nothing."""
    if not output or len(output) != 2 + 64:
        return None
    packed = int(output[2:], 16)
    return _int128(packed >> 128), _int128(packed & ((1 << 128) - 1))


def _token(currency: str) -> str:
    currency = currency.lower()
    return ETH if currency == NATIVE else currency


def _swap(
    frame: Frame, prior: Sequence[Transfer], children: Sequence[Transfer]
) -> SwapEvent | None:
    key = frame.args["key"]
    delta = balance_delta(frame.trace.output)
    if key is None or delta is None:
        return None
    currency0, currency1, fee, tick_spacing, hooks = key
    amount0, amount1 = delta
    if amount0 < 0 < amount1:
        token_in, amount_in, token_out, amount_out = currency0, -amount0, currency1, amount1
    elif amount1 < 0 < amount0:
        token_in, amount_in, token_out, amount_out = currency1, -amount1, currency0, amount0
    else:
        return None  # nothing exchanged (a hook took it all, or an empty swap)
    swapper = frame.trace.sender or ""
    return SwapEvent(
        **frame.site(),
        protocol="uniswap_v4",
        pool=pool_id((currency0, currency1, fee, tick_spacing, hooks)),
        sender=swapper,
        recipient=swapper,
        token_in=_token(token_in),
        amount_in=amount_in,
        token_out=_token(token_out),
        amount_out=amount_out,
        hooks=None if hooks.lower() == NO_HOOKS else hooks.lower(),
    )


SPECS = [
    spec(
        "uniswap_v4",
        "swap((address,address,uint24,int24,address) key,(bool,int256,uint160) params,"
        "bytes hookData)",
        "swap",
        _swap,
    ),
]
