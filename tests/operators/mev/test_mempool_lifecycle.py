"""Issue 15's defects, each on the detector that had it: mined txs stayed pairable, a searcher's
backrun was a victim, a public mint was a crowd of frontrun copies."""

from __future__ import annotations

import pickle

import msgspec

from operators.mev.mempool import (
    FrontrunCopyDetector,
    SandwichableVictimDetector,
    SandwichAttemptDetector,
    amm,
)
from operators.mev.mempool.sandwichable import VictimGate
from operators.mev.pools import hops as hops_of
from operators.mev.pools import v2_pair
from operators.records import EnrichedTx, Tx
from tests.operators.mev.pending import (
    BOT,
    EXACT_ETH_IN,
    EXACT_TOKENS_IN,
    GWEI,
    UNI_ROUTER,
    USDC,
    WETH,
    enriched,
    pending,
)
from tests.operators.mev.traces import calldata


def _mined(tx: Tx, block: int, seen_ms: int) -> EnrichedTx:
    """The block's sighting of ``tx``: mined txs carry the block's first-seen time."""
    return enriched(
        msgspec.structs.replace(
            tx, block_number=block, block_hash="0x" + "ab" * 32, tx_index=0, first_seen_ms=seen_ms
        )
    )


def _buy(hash_: str, sender: str, seen_ms: int, tip: int, nonce: int | None = None) -> Tx:
    data = calldata(EXACT_ETH_IN, 1_900 * 10**6, [WETH, USDC], sender, 2**40)
    tx = pending(hash_, sender, UNI_ROUTER, data, value=10**18, tip=tip, seen_ms=seen_ms)
    return msgspec.structs.replace(tx, nonce=nonce)


def _bot(hash_: str, pool: str, tip: int, seen_ms: int, nonce: int) -> Tx:
    tx = pending(
        hash_, BOT, "0x" + "bc" * 20, "0x00006f3d" + pool[2:] + "00" * 12, tip=tip, seen_ms=seen_ms
    )
    return msgspec.structs.replace(tx, nonce=nonce)


def test_swaps_after_a_mined_sandwich_are_not_its_victims() -> None:
    pool = v2_pair(1, "uniswap_v2", WETH, USDC)
    assert pool is not None
    detector = SandwichAttemptDetector()
    victim = _buy("0xv0", "0x" + "a1" * 20, seen_ms=1_000, tip=2 * GWEI)
    front = _bot("0xf1", pool, tip=3 * GWEI, seen_ms=1_050, nonce=7)
    back = _bot("0xb1", pool, tip=GWEI, seen_ms=1_060, nonce=8)
    detector.on_tx(enriched(victim))
    detector.on_tx(enriched(front))
    [real] = detector.on_tx(enriched(back))
    assert real.tx_hashes == ("0xf1", "0xv0", "0xb1")
    # Block N holds all three; two unrelated swaps arrive 30 ms after it.
    for tx in (front, victim, back):
        assert detector.on_tx(_mined(tx, 100, 2_000)) == []
    late = [
        _buy("0xv1", "0x" + "c1" * 20, seen_ms=2_030, tip=2 * GWEI),
        _buy("0xv2", "0x" + "c2" * 20, seen_ms=2_031, tip=2 * GWEI),
    ]
    assert [d for tx in late for d in detector.on_tx(enriched(tx))] == []
    # A pending sighting of a mined tx that arrives after its block (another node, a slow
    # subscription) does not bring it back.
    assert detector.on_tx(enriched(msgspec.structs.replace(front, first_seen_ms=2_040))) == []
    assert "0xf1" not in detector.arrived


def test_legs_pending_before_the_victim_arrived_do_not_bracket_it() -> None:
    """The block with the searcher's txs may reach the flow after the next swaps (its traces take
    longer to fetch): a bracket whose backrun predates the victim was not built around it."""
    pool = v2_pair(1, "uniswap_v2", WETH, USDC)
    assert pool is not None
    detector = SandwichAttemptDetector()
    detector.on_tx(enriched(_bot("0xf1", pool, tip=3 * GWEI, seen_ms=1_050, nonce=7)))
    detector.on_tx(enriched(_bot("0xb1", pool, tip=GWEI, seen_ms=1_060, nonce=8)))
    found = detector.on_tx(enriched(_buy("0xv1", "0x" + "c1" * 20, seen_ms=1_090, tip=2 * GWEI)))
    assert found == []


def _victim_then_frontrun() -> tuple[SandwichAttemptDetector, str]:
    """A detector after a victim's buy (tip 2 gwei) and a bot's frontrun (3 gwei, nonce 7)."""
    pool = v2_pair(1, "uniswap_v2", WETH, USDC)
    assert pool is not None
    detector = SandwichAttemptDetector()
    detector.on_tx(enriched(_buy("0xv0", "0x" + "a1" * 20, seen_ms=1_000, tip=2 * GWEI)))
    detector.on_tx(enriched(_bot("0xf1", pool, tip=3 * GWEI, seen_ms=1_050, nonce=7)))
    return detector, pool


def test_a_replaced_leg_leaves_the_window() -> None:
    detector, pool = _victim_then_frontrun()
    # The frontrun's nonce is taken by a cancellation mined first: no bracket with it.
    cancel = msgspec.structs.replace(
        pending("0xcc", BOT, BOT, tip=4 * GWEI, seen_ms=1_055), nonce=7
    )
    detector.on_tx(_mined(cancel, 99, 1_058))
    assert detector.on_tx(enriched(_bot("0xb1", pool, tip=GWEI, seen_ms=1_060, nonce=8))) == []


def test_the_attempts_why_says_what_the_data_shows() -> None:
    detector, pool = _victim_then_frontrun()
    [attempt] = detector.on_tx(enriched(_bot("0xb1", pool, tip=2 * GWEI, seen_ms=1_060, nonce=8)))
    assert attempt.severity == "medium"  # the backrun lands after the victim by arrival only
    why = attempt.data["why"]
    assert "frontrun tip above the victim's, backrun tip equal to it" in why
    assert "frontrun first seen 50 ms after the victim" in why
    assert "backrun 60 ms after it" in why


def test_a_searchers_backrun_is_not_a_sandwichable_victim() -> None:
    pool = v2_pair(1, "uniswap_v2", WETH, USDC)
    reserve_usdc, reserve_weth = 200_000 * 10**6, 100 * 10**18

    def reserves(chain_id: int, address: str) -> tuple[int, int] | None:
        return (reserve_usdc, reserve_weth) if address == pool else None

    detector = SandwichableVictimDetector(reserves, 50)
    searcher = "0x" + "5e" * 20
    # Frontrun: buys USDC asking for exactly the quote; backrun: sells it back with
    # amountOutMin 0 - a 100 % tolerance, but a searcher's leg.
    quote = amm.amount_out(10**18, reserve_weth, reserve_usdc)
    front = enriched(
        pending(
            "0xf",
            searcher,
            UNI_ROUTER,
            calldata(EXACT_ETH_IN, quote, [WETH, USDC], searcher, 2**40),
            value=10**18,
            tip=3 * GWEI,
            seen_ms=10,
        )
    )
    back = calldata(EXACT_TOKENS_IN, quote, 0, [USDC, WETH], searcher, 2**40)
    backrun = enriched(pending("0xb", searcher, UNI_ROUTER, back, tip=GWEI, seen_ms=20))
    [alone] = detector.on_tx(backrun)  # judged by itself, the sell is a victim
    assert alone.kind == "sandwichable_victim"

    def gated(order: list[EnrichedTx]) -> list[str]:
        gate, out = VictimGate(hold_ms=250), []
        for etx in order:
            hops = [h for s in etx.swaps for h in hops_of(1, s)]
            out += gate.on_swap(etx, hops, detector.on_tx(etx), now_ms=0)
        out += gate.on_block(now_ms=0)
        return [d.tx_hashes[0] for d in out]

    # Whichever leg the flow hands over first, the gate drops the backrun.
    assert gated([front, backrun]) == gated([backrun, front]) == []
    # The same sell from a sender with no other leg goes out once the hold has passed.
    other = enriched(pending("0xo", "0x" + "0d" * 20, UNI_ROUTER, back, tip=GWEI, seen_ms=30))
    later = enriched(pending("0xl", "0x" + "0e" * 20, UNI_ROUTER, "0x", seen_ms=400))
    gate = VictimGate(hold_ms=250)
    assert gate.on_swap(other, hops_of(1, other.swaps[0]), detector.on_tx(other), 0) == []
    [released] = gate.on_swap(later, [], [], now_ms=5)
    assert released.tx_hashes == ("0xo",) and released.detected_ms == 5
    # A block forgets the legs: a swap the other way in a later block is an ordinary trade.
    gate.on_swap(front, hops_of(1, front.swaps[0]), [], 0)
    gate.on_block(0)
    assert not gate.round_trip(backrun, hops_of(1, backrun.swaps[0]))


def test_a_searchers_leg_is_not_another_searchers_victim() -> None:
    pool = v2_pair(1, "uniswap_v2", WETH, USDC)
    assert pool is not None
    detector = SandwichAttemptDetector()
    searcher = "0x" + "5e" * 20
    quote = 10**9
    front = calldata(EXACT_ETH_IN, quote, [WETH, USDC], searcher, 2**40)
    back = calldata(EXACT_TOKENS_IN, quote, 0, [USDC, WETH], searcher, 2**40)
    detector.on_tx(
        enriched(
            pending("0xf", searcher, UNI_ROUTER, front, value=10**18, tip=3 * GWEI, seen_ms=10)
        )
    )
    detector.on_tx(enriched(pending("0xb", searcher, UNI_ROUTER, back, tip=GWEI, seen_ms=20)))
    # Another bot brackets the first searcher's frontrun: not a victim, it is a round trip.
    detector.on_tx(enriched(_bot("0xf2", pool, tip=4 * GWEI, seen_ms=30, nonce=1)))
    found = detector.on_tx(enriched(_bot("0xb2", pool, tip=GWEI // 2, seen_ms=40, nonce=2)))
    assert found == []


SEADROP = "0x00005ea00ac477b1030ce78506496e8c2de24bf5"
MINT_PUBLIC = (
    "mintPublic(address nftContract,address feeRecipient,address minterIfNotPayer,uint256 quantity)"
)


def test_a_public_mint_crowd_is_not_frontrun_copies() -> None:
    data = calldata(MINT_PUBLIC, "0x" + "4f" * 20, "0x" + "fe" * 20, "0x" + "00" * 20, 1)
    assert data.startswith("0x161ac21f")
    detector = FrontrunCopyDetector(hold_ms=1_000)
    found = []
    for i in range(6):
        sender = f"0x{i + 1:040x}"
        tx = pending(f"0xm{i}", sender, SEADROP, data, tip=(i + 1) * GWEI, seen_ms=100 + 50 * i)
        found += detector.on_tx(EnrichedTx(tx=tx, kind="other"))
    # Time passes (other calls in the window), then the window closes.
    later = pending(
        "0xz",
        "0x" + "99" * 20,
        SEADROP,
        calldata(MINT_PUBLIC, "0x" + "11" * 20, "0x" + "fe" * 20, "0x" + "00" * 20, 2),
        tip=GWEI,
        seen_ms=5_000,
    )
    found += detector.on_tx(EnrichedTx(tx=later, kind="other"))
    found += detector.on_close()
    assert found == []


def test_one_copier_is_still_a_copy_once_the_hold_passes() -> None:
    data = calldata(MINT_PUBLIC, "0x" + "4f" * 20, "0x" + "fe" * 20, "0x" + "00" * 20, 1)
    detector = FrontrunCopyDetector(hold_ms=1_000)
    first = pending("0xo", "0x" + "a1" * 20, SEADROP, data, tip=GWEI, seen_ms=100)
    copy = pending("0xc", BOT, SEADROP, data, tip=2 * GWEI, seen_ms=120)
    assert detector.on_tx(EnrichedTx(tx=first, kind="other")) == []
    assert detector.on_tx(EnrichedTx(tx=copy, kind="other")) == []  # held: a crowd may follow
    # The copy's block arrives: decided on what the window saw (two senders: a copy).
    [found] = detector.on_tx(
        enriched(msgspec.structs.replace(copy, block_number=5, first_seen_ms=900))
    )
    assert found.tx_hashes == ("0xo", "0xc")
    assert found.data["senders"] == 2


def test_a_mined_original_is_not_copied_by_a_later_caller() -> None:
    fn = "claim(address beneficiary,uint256 amount)"
    target = "0x" + "cc" * 20
    alice, later = "0x" + "a1" * 20, "0x" + "d1" * 20
    detector = FrontrunCopyDetector(hold_ms=0)
    original = pending("0xo", alice, target, calldata(fn, alice, 5), tip=GWEI, seen_ms=10)
    detector.on_tx(EnrichedTx(tx=original, kind="other"))
    mined = msgspec.structs.replace(original, block_number=3, first_seen_ms=500)
    assert detector.on_tx(EnrichedTx(tx=mined, kind="other")) == []
    repeat = pending("0xr", later, target, calldata(fn, later, 5), tip=2 * GWEI, seen_ms=600)
    found = detector.on_tx(EnrichedTx(tx=repeat, kind="other")) + detector.on_close()
    assert found == []


def test_alert_outcomes_count_what_the_blocks_confirmed() -> None:
    """The live precision figure: each alert once, confirmed when a block's sandwich links to
    it, unconfirmed when the linker forgets it unmatched."""
    from prometheus_client import REGISTRY

    from operators.mev.mempool.predictions import SandwichPredictions
    from tests.operators.mev.test_predictions import _alerts_and_sandwich, _sandwichable

    def count(outcome: str) -> float:
        labels = {"detector": "sandwich_attempt", "outcome": outcome}
        return REGISTRY.get_sample_value("scorpius_mempool_alert_outcomes_total", labels) or 0.0

    before = count("confirmed"), count("unconfirmed")
    attempts, sandwich = _alerts_and_sandwich()
    linker = SandwichPredictions(horizon_ms=60_000)
    stray = msgspec.structs.replace(
        attempts[0], key="1:sandwich_attempt:stray", tx_hashes=("0xf", "0xstray", "0xb")
    )
    for alert in (*attempts, stray):
        linker.on_detection(alert)
    linker.on_detection(sandwich)
    linker.on_detection(sandwich)  # the same block again: no second count
    assert linker.drain_outcomes() == [("sandwich_attempt", "confirmed")] * len(attempts)
    # Blocks keep coming; the stray alert's victim never lands in a sandwich.
    later = _sandwichable("0xother", sandwich.first_seen_ms + 120_000, 0)
    late_block = msgspec.structs.replace(
        sandwich, key="later", first_seen_ms=sandwich.first_seen_ms + 120_000
    )
    linker.on_detection(late_block)
    linker.on_detection(later)
    outcomes = linker.drain_outcomes()
    assert ("sandwich_attempt", "unconfirmed") in outcomes
    assert outcomes.count(("sandwich_attempt", "unconfirmed")) == 1  # the stray alert only
    assert count("confirmed") - before[0] == len(attempts)
    assert count("unconfirmed") - before[1] == 1


def test_a_pickled_frontrun_window_resumes_with_the_same_findings() -> None:
    # The detector keeps held copies indexed by due time and by hash; a window restored from its
    # pickle rebuilds those indexes and must release what an unbroken detector releases.
    fn = "claim(address beneficiary,uint256 amount)"
    target = "0x" + "cc" * 20
    stream = []
    for i in range(40):
        owner, copier = f"0x{i + 1:040x}", f"0x{i + 1001:040x}"
        seen = 100 * i
        stream.append(
            pending(f"0xo{i}", owner, target, calldata(fn, owner, i), tip=GWEI, seen_ms=seen)
        )
        stream.append(
            pending(
                f"0xc{i}", copier, target, calldata(fn, copier, i), tip=3 * GWEI, seen_ms=seen + 5
            )
        )
        if i % 3 == 0:  # every third copy is settled by its block before its hold ends
            stream.append(
                msgspec.structs.replace(stream[-1], block_number=9, first_seen_ms=seen + 9)
            )
    etxs = [EnrichedTx(tx=tx, kind="other") for tx in stream]
    for split in (len(etxs) // 4, len(etxs) // 2, len(etxs) - 3):
        whole, head = FrontrunCopyDetector(hold_ms=1_000), FrontrunCopyDetector(hold_ms=1_000)
        expected = [d.key for etx in etxs for d in whole.on_tx(etx)] + [
            d.key for d in whole.on_close()
        ]
        got = [d.key for etx in etxs[:split] for d in head.on_tx(etx)]
        resumed = pickle.loads(pickle.dumps(head))
        got += [d.key for etx in etxs[split:] for d in resumed.on_tx(etx)]
        got += [d.key for d in resumed.on_close()]
        # Settled copies come out at once, the rest as their hold ends, all of them once.
        assert len(expected) == 40 and got == expected
        assert expected.index("1:frontrun_copy:0xo3:0xc3") < expected.index(
            "1:frontrun_copy:0xo1:0xc1"
        )
