"""JIT liquidity: an LP mints a concentrated position on a Uniswap V3 pool right before victims'
swaps and burns it right after, taking most of their fees.

Read from pool calls in the traces: ``mint`` (tx A), then swaps on that pool by other txs, then
``burn`` of the same tick range by the same owner (tx C > A), with ``collect`` in C giving what
the position took out. ``fees`` = collected - burned principal, per token. ``share`` is the
part of the victims' swap fees the JIT position earned (fees in the input token over
``volume * fee tier``): its share of the liquidity in range. The LP is the contract that called
into the position (the txs' top-level callee, as mev-inspect-py reports it: positions minted
through the NonfungiblePositionManager are owned by the manager at the pool).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
from eth_abi import decode
from eth_abi.exceptions import DecodingError

from operators.abi_decoding import Function
from operators.mev.model import Frame, SwapEvent
from operators.mev.pools import BUNDLED, AmmFactories

MINT = Function.parse(
    "mint(address recipient,int24 tickLower,int24 tickUpper,uint128 amount,bytes data)"
)
BURN = Function.parse("burn(int24 tickLower,int24 tickUpper,uint128 amount)")
COLLECT = Function.parse(
    "collect(address recipient,int24 tickLower,int24 tickUpper,uint128 amount0Requested,"
    "uint128 amount1Requested)"
)
V3_FEE_TIERS = (100, 500, 3000, 10000)


class PositionCall(msgspec.Struct, frozen=True):
    """A mint, burn or collect on a pool, with the two token amounts it returned."""

    action: str
    tx_hash: str
    tx_position: int
    trace_address: tuple[int, ...]
    pool: str
    owner: str
    caller: str  # the tx's top-level callee: the bot contract
    tick_lower: int
    tick_upper: int
    liquidity: int
    amount0: int
    amount1: int


class JitLiquidity(msgspec.Struct, frozen=True):
    lp: str
    pool: str
    mint: PositionCall
    burn: PositionCall
    victims: tuple[SwapEvent, ...]
    token0: str
    token1: str
    # What ``collect`` paid out in the burn tx (principal and fees); None without a collect.
    collected0: int | None
    collected1: int | None
    fee0: int | None
    fee1: int | None
    volume0: int
    volume1: int
    fee_tier: int | None

    @property
    def share(self) -> float | None:
        """The JIT position's part of the victims' swap fees (its share of in-range liquidity)."""
        if self.fee_tier is None or self.fee0 is None or self.fee1 is None:
            return None
        paid = (self.volume0 + self.volume1) * self.fee_tier / 1_000_000
        earned = self.fee0 if self.volume0 else self.fee1
        return min(1.0, earned / paid) if paid else None


def _amounts(output: str | None) -> tuple[int, int] | None:
    if not output or len(output) < 2 + 128:
        return None
    try:
        a0, a1 = decode(["uint256", "uint256"], bytes.fromhex(output[2:130]))
    except (DecodingError, ValueError):
        return None
    return int(a0), int(a1)


def position_calls(frames: Sequence[Frame]) -> list[PositionCall]:
    """The successful mints, burns and collects of one tx, in call order."""
    calls = []
    caller = (frames[0].trace.to or "") if frames else ""
    for frame in frames:
        trace = frame.trace
        if frame.error is not None or trace.type != "call" or trace.call_type != "call":
            continue
        selector = trace.input[:10].lower()
        for action, function in (("mint", MINT), ("burn", BURN), ("collect", COLLECT)):
            if selector != function.selector:
                continue
            args = function.decode_input(trace.input)
            amounts = _amounts(trace.output)
            if args is None or amounts is None:
                break
            owner = args["recipient"].lower() if action == "mint" else trace.sender or ""
            calls.append(
                PositionCall(
                    action,
                    frame.tx_hash,
                    trace.tx_position or 0,
                    frame.address,
                    trace.to or "",
                    owner,
                    caller,
                    int(args["tickLower"]),
                    int(args["tickUpper"]),
                    int(args.get("amount", 0)),
                    *amounts,
                )
            )
            break
    return calls


def _fee_tier(factories: AmmFactories, chain_id: int, pool: str, t0: str, t1: str) -> int | None:
    for fee in V3_FEE_TIERS:
        if factories.v3_pool(chain_id, t0, t1, fee) == pool:
            return fee
    return None


def find_jit(
    frames_by_tx: Mapping[str, Sequence[Frame]],
    swaps: Sequence[SwapEvent],
    chain_id: int = 1,
    factories: AmmFactories = BUNDLED,
) -> list[JitLiquidity]:
    calls = sorted(
        (c for frames in frames_by_tx.values() for c in position_calls(frames)),
        key=lambda c: (c.tx_position, c.trace_address),
    )
    found = []
    used: set[tuple[str, tuple[int, ...]]] = set()
    for mint in (c for c in calls if c.action == "mint"):
        burn = next(
            (
                c
                for c in calls
                if c.action == "burn"
                and c.tx_position > mint.tx_position
                and (c.pool, c.owner, c.caller, c.tick_lower, c.tick_upper)
                == (mint.pool, mint.owner, mint.caller, mint.tick_lower, mint.tick_upper)
                and (c.tx_hash, c.trace_address) not in used
            ),
            None,
        )
        if burn is None:
            continue
        victims = tuple(
            s
            for s in swaps
            if s.pool == mint.pool
            and s.error is None
            and mint.tx_position < s.tx_position < burn.tx_position
        )
        if not victims:
            continue
        used.add((burn.tx_hash, burn.trace_address))
        token0, token1 = sorted((victims[0].token_in, victims[0].token_out))
        collect = next(
            (
                c
                for c in calls
                if c.action == "collect"
                and c.tx_hash == burn.tx_hash
                and c.pool == burn.pool
                and (c.tick_lower, c.tick_upper) == (burn.tick_lower, burn.tick_upper)
            ),
            None,
        )
        fee0 = collect.amount0 - burn.amount0 if collect else None
        fee1 = collect.amount1 - burn.amount1 if collect else None
        found.append(
            JitLiquidity(
                lp=mint.caller,
                pool=mint.pool,
                mint=mint,
                burn=burn,
                victims=victims,
                token0=token0,
                token1=token1,
                collected0=collect.amount0 if collect else None,
                collected1=collect.amount1 if collect else None,
                fee0=fee0,
                fee1=fee1,
                volume0=sum(s.amount_in for s in victims if s.token_in == token0),
                volume1=sum(s.amount_in for s in victims if s.token_in == token1),
                fee_tier=_fee_tier(factories, chain_id, mint.pool, token0, token1),
            )
        )
    return found
