"""Constant-product (Uniswap V2) arithmetic, in integers exactly as the pair contract rounds."""

from __future__ import annotations

from collections.abc import Sequence

FEE_DENOMINATOR = 1000
FEE_NUMERATOR = 997  # 0.3% fee of Uniswap V2 and most forks
MAX_FRONTRUN_RESERVES = 1024


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        return 0
    with_fee = amount_in * FEE_NUMERATOR
    return with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR + with_fee)


def amount_in(amount_out_: int, reserve_in: int, reserve_out: int) -> int | None:
    """Input needed for ``amount_out_``; None when the pool cannot pay that much."""
    if amount_out_ <= 0 or amount_out_ >= reserve_out or reserve_in <= 0:
        return None
    numerator = reserve_in * amount_out_ * FEE_DENOMINATOR
    denominator = (reserve_out - amount_out_) * FEE_NUMERATOR
    return numerator // denominator + 1


def quote_out(amount: int, reserves: Sequence[tuple[int, int]]) -> int:
    """Output of an exact-input swap through pools with (reserve_in, reserve_out) each."""
    for reserve_in, reserve_out in reserves:
        amount = amount_out(amount, reserve_in, reserve_out)
    return amount


def quote_in(amount: int, reserves: Sequence[tuple[int, int]]) -> int | None:
    """Input of an exact-output swap through the same pools (computed from the last back)."""
    needed: int | None = amount
    for reserve_in, reserve_out in reversed(reserves):
        if needed is None:
            return None
        needed = amount_in(needed, reserve_in, reserve_out)
    return needed


def sandwich(frontrun: int, victim_in: int, reserve_in: int, reserve_out: int) -> tuple[int, int]:
    """(victim's output, searcher's profit in the input token) for a frontrun of ``frontrun``
    input, the victim's ``victim_in``, and a backrun selling everything the frontrun bought."""
    bought = amount_out(frontrun, reserve_in, reserve_out)
    r_in, r_out = reserve_in + frontrun, reserve_out - bought
    victim_out = amount_out(victim_in, r_in, r_out)
    r_in, r_out = r_in + victim_in, r_out - victim_out
    sold_back = amount_out(bought, r_out, r_in)
    return victim_out, sold_back - frontrun


def max_frontrun(victim_in: int, victim_min_out: int, reserve_in: int, reserve_out: int) -> int:
    """The largest frontrun after which the victim's swap still gets ``victim_min_out``."""
    if amount_out(victim_in, reserve_in, reserve_out) < victim_min_out:
        return 0
    low, high = 0, max(reserve_in, 1)
    # A victim with no minimum (amount_out_min 0) tolerates any frontrun: cap the search where
    # the frontrun dwarfs the pool, far past any profitable size.
    while sandwich(high, victim_in, reserve_in, reserve_out)[0] >= victim_min_out:
        if high >= MAX_FRONTRUN_RESERVES * reserve_in:
            return high
        high *= 2
    while high - low > 1:
        middle = (low + high) // 2
        if sandwich(middle, victim_in, reserve_in, reserve_out)[0] >= victim_min_out:
            low = middle
        else:
            high = middle
    return low


def best_frontrun(
    victim_in: int, victim_min_out: int, reserve_in: int, reserve_out: int
) -> tuple[int, int]:
    """The most profitable frontrun the victim's tolerance allows: (amount, profit), (0, 0) when
    no sandwich pays (both legs pay the pool fee, so past some size a bigger frontrun loses).

    Profit is unimodal in the frontrun size (rises with the price the victim moves, falls with
    fees), so a ternary search over [0, largest allowed frontrun] finds its maximum.
    """
    low, high = 0, max_frontrun(victim_in, victim_min_out, reserve_in, reserve_out)

    def profit(x: int) -> int:
        return sandwich(x, victim_in, reserve_in, reserve_out)[1] if x else 0

    while high - low > 2:
        third = (high - low) // 3
        if profit(low + third) < profit(high - third):
            low += third + 1
        else:
            high -= third
    best = max(range(low, high + 1), key=profit)
    return (best, profit(best)) if profit(best) > 0 else (0, 0)
