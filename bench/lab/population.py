"""A seeded, scripted population sending pending txs into the lab's chain, block after block, and
the ground truth of what each tx is.

Actors, each with its own accounts (impersonated on Anvil, so no key signing):

- ordinary swappers: Router02 (Uniswap's and the fork's) and V3 SwapRouter exact-input swaps,
  one or two hops, slippage tolerance 0.1-5 % and a few at 100 % (amountOutMin 0);
- sandwich bots, EOA (through the pool's Router02, frontrun asking exactly its quote, backrun
  with amountOutMin 0) and contract (``LabBot.trade`` naming the pair), one or several victims
  on one pool: frontrun tip above every victim's, backrun tip below, both sent after the victims;
- back-runners: one reverse swap right after a large swap, tip just below it, exact minimum;
- two-pool arbitrageurs: ``LabBot.arbitrage`` between the Uniswap and fork T0/T1 pairs when
  their prices part by more than the fees;
- generalised frontrunners: a bounty claim copied with the copier's address in place of the
  claimer's, a puzzle solution copied byte for byte, each with a higher tip;
- replacements, cancellations (0-value self transfer at the nonce) and gas wars (3 bumps);
- crowds: a public mint (same calldata from many senders) and an airdrop claim (same calldata
  but each sender's own address), continuing over blocks;
- bursts: every tenth block carries half again as many ordinary swaps.

Ground truth is recorded per tx as it is sent (``Truth``); a tx's expected block position is its
tip, then its arrival (the order Anvil mines by, given every fee cap moves with its tip).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from bench.lab.node import GWEI, LabNode, calldata
from bench.lab.world import Pool, World
from operators.mev.mempool import amm

V2_EXACT_IN = "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
V3_EXACT_IN = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
BPS = 10_000
# Tolerances ordinary swappers pick (bps), and how often; 10_000 = amountOutMin 0.
SLIPPAGES = ((10, 10), (30, 10), (50, 15), (100, 25), (200, 15), (300, 10), (500, 12), (BPS, 3))
MIN_SLIPPAGE_BPS = 50  # the sandwichable-victim detector's default threshold


@dataclass
class Sent:
    hash: str
    actor: str
    sender: str
    tip: int
    seq: int  # arrival order
    block: int  # the block it was sent for
    pool: str | None = None  # the first pool it trades on
    way: tuple[str, str] | None = None  # (token in, token out) on ``pool``
    hops: tuple[tuple[str, tuple[str, str]], ...] = ()  # every (pool, way) of a decoded swap
    sent_ms: int = 0
    ordinary_v2: bool = False  # an ordinary swap through Router02 (a candidate victim)
    slippage_bps: int | None = None
    replaced: bool = False

    def order(self) -> tuple[int, int]:
        return (-self.tip, self.seq)


@dataclass
class Attack:
    front: Sent
    back: Sent
    pool: str
    way: tuple[str, str]
    victims: list[Sent]
    contract: bool


@dataclass
class Truth:
    sent: dict[str, Sent] = field(default_factory=dict)
    attacks: list[Attack] = field(default_factory=list)
    copies: list[tuple[str, str, str]] = field(default_factory=list)  # original, copy, how
    replacements: list[tuple[str, str]] = field(default_factory=list)
    arbitrages: list[str] = field(default_factory=list)

    def actors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.sent.values():
            counts[s.actor] = counts.get(s.actor, 0) + 1
        return counts


@dataclass
class Accounts:
    swappers: list[str]
    eoa_bots: list[str]
    contract_bots: list[str]
    backrunners: list[str]
    arbers: list[str]
    copiers: list[str]
    claimers: list[str]
    crowd: list[str]
    replacers: list[str]

    @classmethod
    def make(cls, per_block: int) -> Accounts:
        def group(name: str, n: int) -> list[str]:
            return ["0x" + keccak(text=f"lab:{name}:{i}")[12:].hex() for i in range(n)]

        return cls(
            swappers=group("swapper", max(40, per_block)),
            eoa_bots=group("eoa_bot", 8),
            contract_bots=group("contract_bot", 8),
            backrunners=group("backrunner", 6),
            arbers=group("arber", 2),
            copiers=group("copier", max(8, per_block // 15)),
            claimers=group("claimer", max(8, per_block // 15)),
            crowd=group("crowd", max(20, per_block // 4)),
            replacers=group("replacer", max(6, per_block // 20)),
        )

    def all(self) -> list[str]:
        return [a for g in vars(self).values() for a in g]

    def traders(self) -> list[str]:
        return self.swappers + self.eoa_bots + self.backrunners

    def bot_owners(self) -> list[str]:
        return self.contract_bots + self.arbers


class Population:
    def __init__(
        self, node: LabNode, world: World, accounts: Accounts, seed: int, send_gap_ms: float = 5.0
    ) -> None:
        self.node = node
        self.world = world
        self.accounts = accounts
        self.rng = random.Random(seed)
        self.truth = Truth()
        self.seq = 0
        self.send_gap_s = send_gap_ms / 1000
        self.next_send = 0.0
        self.block = 0
        self.reserves: dict[str, tuple[int, int]] = {}
        self.puzzle = 0
        self.campaign = 1

    # --- sending ---------------------------------------------------------------------------

    def _send(self, actor: str, sender: str, to: str, data: str, tip: int, **kw: Any) -> Sent:
        extra = {k: kw.pop(k) for k in ("nonce", "fee_cap", "gas") if k in kw}
        # A fixed pace, not the machine's: unpaced, a fast idle machine sent dozens of txs in one
        # millisecond, the flow's millisecond first-seen stamps tied swaps sent after a backrun
        # with it: sandwich-attempt precision 0.81-0.86 on the small run, 0.97-0.98 paced (docs/lab.md).
        wait = self.next_send - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.next_send = time.monotonic() + self.send_gap_s
        sent_ms = int(time.time() * 1000)
        tx_hash = self.node.send(sender, to, data, tip=tip, **extra)
        self.seq += 1
        if kw.get("way") is not None and "hops" not in kw:
            kw["hops"] = ((kw["pool"], kw["way"]),)
        sent = Sent(tx_hash, actor, sender, tip, self.seq, self.block, sent_ms=sent_ms, **kw)
        self.truth.sent[tx_hash] = sent
        return sent

    def _deadline(self) -> int:
        """Wallets set a deadline some minutes from now: calldata differs from second to second."""
        return int(time.time()) + self.rng.randint(60, 1_800)

    def _tip(self) -> int:
        return self.rng.randint(1 * GWEI, 3 * GWEI)

    def _oriented(self, pool: Pool, token_in: str) -> tuple[int, int]:
        r0, r1 = self.reserves[pool.address]
        return (r0, r1) if token_in == pool.token0 else (r1, r0)

    def _refresh(self) -> None:
        for pool in self.world.pools:
            if pool.family == "v2":
                r0, r1, _ = self.node.call(
                    pool.address, "getReserves()", ["uint112", "uint112", "uint32"]
                )
                self.reserves[pool.address] = (int(r0), int(r1))

    # --- actors ----------------------------------------------------------------------------

    def _ordinary(self, sender: str) -> Sent:
        w, rng = self.world, self.rng
        roll = rng.random()
        v2 = [p for p in w.pools if p.family == "v2"]
        if roll < 0.12:
            pool = next(p for p in w.pools if p.family == "v3")
            token_in, token_out = (
                (pool.token0, pool.token1) if rng.random() < 0.5 else (pool.token1, pool.token0)
            )
            amount = rng.randint(1, 20) * 10**17
            data = calldata(
                V3_EXACT_IN,
                (token_in, token_out, 3000, sender, self._deadline(), amount, amount // 2, 0),
            )
            return self._send(
                "swapper_v3",
                sender,
                pool.router,
                data,
                self._tip(),
                gas=300_000,
                pool=pool.address,
                way=(token_in, token_out),
            )
        slippage = rng.choices([s for s, _ in SLIPPAGES], [w_ for _, w_ in SLIPPAGES])[0]
        if roll < 0.22:  # two hops on Uniswap's pairs
            path = rng.sample(w.tokens, 3)
            hops = [w.pool("uniswap_v2", path[0], path[1]), w.pool("uniswap_v2", path[1], path[2])]
            reserves = [self._oriented(h, t) for h, t in zip(hops, path[:2], strict=True)]
            amount = reserves[0][0] * rng.randint(1, 30) // 10_000
            quote = amm.quote_out(amount, reserves)
            min_out = quote * (BPS - slippage) // BPS
            data = calldata(V2_EXACT_IN, amount, min_out, path, sender, self._deadline())
            return self._send(
                "swapper_v2_multihop",
                sender,
                hops[0].router,
                data,
                self._tip(),
                gas=300_000,
                pool=hops[0].address,
                way=(path[0], path[1]),
                hops=((hops[0].address, (path[0], path[1])), (hops[1].address, (path[1], path[2]))),
                ordinary_v2=True,
                slippage_bps=_slippage(quote, min_out),
            )
        pool = rng.choice(v2)
        token_in, token_out = (
            (pool.token0, pool.token1) if rng.random() < 0.5 else (pool.token1, pool.token0)
        )
        r_in, r_out = self._oriented(pool, token_in)
        amount = r_in * rng.randint(1, 80) // 10_000
        quote = amm.amount_out(amount, r_in, r_out)
        min_out = quote * (BPS - slippage) // BPS
        data = calldata(
            V2_EXACT_IN, amount, min_out, [token_in, token_out], sender, self._deadline()
        )
        return self._send(
            "swapper_v2",
            sender,
            pool.router,
            data,
            self._tip(),
            gas=200_000,
            pool=pool.address,
            way=(token_in, token_out),
            ordinary_v2=True,
            slippage_bps=_slippage(quote, min_out),
        )

    def _sandwich(self, bot: str, contract: bool, victims: list[Sent]) -> None:
        w = self.world
        first = victims[0]
        assert first.pool is not None and first.way is not None
        pool = next(p for p in w.pools if p.address == first.pool)
        token_in, token_out = first.way
        r_in, r_out = self._oriented(pool, token_in)
        size = r_in * self.rng.randint(20, 150) // 10_000
        bought = amm.amount_out(size, r_in, r_out)
        front_tip = max(v.tip for v in victims) + self.rng.randint(1, 10**6)
        back_tip = min(v.tip for v in victims) - self.rng.randint(1, 10**6)

        def leg(actor: str, to: str, data: str, tip: int, **kw: Any) -> Sent:
            return self._send(actor, bot, to, data, tip, gas=200_000, pool=pool.address, **kw)

        if contract:
            to = w.bots[bot]
            trade = "trade(address,address,uint256)"
            front = leg(
                "sandwich_contract", to, calldata(trade, pool.address, token_in, size), front_tip
            )
            back = leg(
                "sandwich_contract", to, calldata(trade, pool.address, token_out, bought), back_tip
            )
        else:
            buy = calldata(V2_EXACT_IN, size, bought, [token_in, token_out], bot, self._deadline())
            sell = calldata(V2_EXACT_IN, bought, 0, [token_out, token_in], bot, self._deadline())
            front = leg("sandwich_eoa", pool.router, buy, front_tip, way=(token_in, token_out))
            back = leg("sandwich_eoa", pool.router, sell, back_tip, way=(token_out, token_in))
        self.truth.attacks.append(
            Attack(front, back, pool.address, first.way, list(victims), contract)
        )

    def _backrun(self, runner: str, big: Sent) -> None:
        assert big.pool is not None and big.way is not None
        pool = next(p for p in self.world.pools if p.address == big.pool)
        token_in, token_out = big.way[1], big.way[0]
        r_in, r_out = self._oriented(pool, token_in)
        amount = r_in * self.rng.randint(5, 30) // 10_000
        quote = amm.amount_out(amount, r_in, r_out)
        data = calldata(
            V2_EXACT_IN,
            amount,
            quote * 999 // 1000,
            [token_in, token_out],
            runner,
            self._deadline(),
        )
        self._send(
            "backrunner",
            runner,
            pool.router,
            data,
            max(big.tip - self.rng.randint(1, 10**6), 1),
            gas=200_000,
            pool=pool.address,
            way=(token_in, token_out),
        )

    def _arbitrage(self, arber: str) -> None:
        w = self.world
        t0, t1 = w.tokens[0], w.tokens[1]
        ours, fork = w.pool("uniswap_v2", t0, t1), w.pool("lab_fork", t0, t1)
        p_ours = self.reserves[ours.address][1] / self.reserves[ours.address][0]
        p_fork = self.reserves[fork.address][1] / self.reserves[fork.address][0]
        if abs(p_ours / p_fork - 1) < 0.007:
            return
        # Buy T1 where it is cheap (more T1 per T0), sell it where it is dear.
        first, second = (ours, fork) if p_ours > p_fork else (fork, ours)
        amount = self.reserves[first.address][0] * self.rng.randint(10, 40) // 10_000
        data = calldata(
            "arbitrage(address,address,address,address,uint256)",
            first.address,
            second.address,
            t0,
            t1,
            amount,
        )
        sent = self._send("arbitrageur", arber, w.bots[arber], data, self._tip() * 2, gas=300_000)
        self.truth.arbitrages.append(sent.hash)

    def _bounty(self, claimer: str, copier: str | None) -> None:
        self.puzzle += 1
        drop, tip = self.world.drop, self._tip()
        original = self._send(
            "bounty_claimer",
            claimer,
            drop,
            calldata("claim(address,uint256)", claimer, 10**6 + self.puzzle),
            tip,
            gas=100_000,
        )
        if copier is not None:
            copy = self._send(
                "frontrunner",
                copier,
                drop,
                calldata("claim(address,uint256)", copier, 10**6 + self.puzzle),
                tip + self.rng.randint(1, GWEI),
                gas=100_000,
            )
            self.truth.copies.append((original.hash, copy.hash, "sender_rewritten"))

    def _solve(self, solver: str, copier: str | None) -> None:
        self.puzzle += 1
        drop, tip = self.world.drop, self._tip()
        data = calldata("solve(uint256,uint256)", self.puzzle, self.rng.getrandbits(64))
        original = self._send("solver", solver, drop, data, tip, gas=100_000)
        if copier is not None:
            copy = self._send(
                "frontrunner", copier, drop, data, tip + self.rng.randint(1, GWEI), gas=100_000
            )
            self.truth.copies.append((original.hash, copy.hash, "identical"))

    def _replace(self, sender: str, rounds: int, cancel: bool) -> list[Callable[[], None]]:
        """Sends a payment now; returns its bumps, which the block sends 20-40 txs later (a wallet
        user speeds up or cancels after waiting, not in the same millisecond)."""
        nonce = self.node.next_nonce(sender)
        to = "0x" + keccak(text=f"payee:{self.seq}")[12:].hex()
        fee_cap, tip = 20 * GWEI, self._tip()
        first = self._send(
            "replacer", sender, to, "0x", tip, nonce=nonce, fee_cap=fee_cap, gas=21_000
        )
        chain = [first]

        def bump(last: bool) -> None:
            previous = chain[-1]
            cap, new_tip = previous_fee[0] * 5 // 4, previous.tip * 5 // 4
            previous_fee[0] = cap
            target = sender if cancel and last else to
            new = self._send(
                "replacer", sender, target, "0x", new_tip, nonce=nonce, fee_cap=cap, gas=21_000
            )
            previous.replaced = True
            self.truth.replacements.append((previous.hash, new.hash))
            chain.append(new)

        previous_fee = [fee_cap]
        return [functools.partial(bump, i == rounds - 1) for i in range(rounds)]

    # --- one block -------------------------------------------------------------------------

    def send_block(self, number: int, per_block: int) -> None:
        """Everything the population sends while block ``number`` is being built."""
        self.block = number
        self._refresh()
        rng, acc = self.rng, self.accounts
        burst = number % 10 == 9
        n_ordinary = int(per_block * 0.62 * (1.5 if burst else 1.0))
        n_mint = max(6, per_block // 16)
        n_airdrop = max(5, per_block // 25)
        n_bounty = max(2, per_block // 40)
        n_solve = max(1, per_block // 60)
        n_replace = max(1, per_block // 60)
        n_attacks = max(1, per_block // 35)
        n_backruns = max(1, per_block // 50)
        swappers = rng.sample(acc.swappers, min(n_ordinary, len(acc.swappers)))
        plan: list[tuple[str, Any]] = [("swap", s) for s in swappers]
        plan += [("mint", s) for s in rng.sample(acc.crowd, min(n_mint, len(acc.crowd)))]
        plan += [("airdrop", s) for s in rng.sample(acc.crowd, min(n_airdrop, len(acc.crowd)))]
        plan += [("bounty", i) for i in range(n_bounty)] + [("solve", i) for i in range(n_solve)]
        plan += [
            ("replace", s) for s in rng.sample(acc.replacers, min(n_replace, len(acc.replacers)))
        ]
        plan += [("arb", a) for a in acc.arbers]
        rng.shuffle(plan)
        bots = rng.sample(
            [(b, False) for b in acc.eoa_bots] + [(b, True) for b in acc.contract_bots],
            min(n_attacks, 16),
        )
        runners = rng.sample(acc.backrunners, min(n_backruns, len(acc.backrunners)))
        # One tx per account and block (bots aside, whose nonce order is their tip order): Anvil
        # mines by fee and would skip a sender's later nonce that pays more than its earlier one.
        copiers = rng.sample(acc.copiers, len(acc.copiers))
        claimers = rng.sample(acc.claimers, len(acc.claimers))
        waiting: dict[tuple[str, tuple[str, str]], list[Sent]] = {}
        attacked: set[str] = set()
        # A sandwich bot waits for 1-3 victims on one pool and direction, then brackets them.
        wants = [rng.choice((1, 1, 2, 3)) for _ in bots]
        crowd_used: set[str] = set()
        later: list[tuple[int, Callable[[], None]]] = []
        for step, (kind, who) in enumerate(plan):
            while later and later[0][0] <= step:
                later.pop(0)[1]()
            if kind == "swap":
                sent = self._ordinary(who)
                if (
                    sent.ordinary_v2
                    and sent.actor == "swapper_v2"
                    and (sent.slippage_bps or 0) >= 100
                    and bots
                    and sent.pool not in attacked
                ):
                    assert sent.way is not None
                    key = (sent.pool or "", sent.way)
                    waiting.setdefault(key, []).append(sent)
                    if len(waiting[key]) >= wants[0]:
                        bot, contract = bots.pop(0)
                        wants.pop(0)
                        self._sandwich(bot, contract, waiting.pop(key))
                        attacked.add(sent.pool or "")
                elif (
                    sent.ordinary_v2
                    and sent.actor == "swapper_v2"
                    and runners
                    and sent.pool not in attacked
                    and rng.random() < 0.2
                ):
                    self._backrun(runners.pop(), sent)
            elif kind in ("mint", "airdrop"):
                if who in crowd_used:
                    continue
                crowd_used.add(who)
                if kind == "mint":
                    data = calldata("mint(uint256)", 1)
                else:
                    data = calldata("claim(address,uint256)", who, self.campaign)
                self._send(f"crowd_{kind}", who, self.world.drop, data, self._tip(), gas=100_000)
            elif kind in ("bounty", "solve"):
                if not claimers:
                    continue
                claimer = claimers.pop()
                copier = copiers.pop() if copiers and rng.random() < 0.6 else None
                (self._bounty if kind == "bounty" else self._solve)(claimer, copier)
            elif kind == "replace":
                roll = rng.random()
                bumps = self._replace(who, 3 if roll < 0.3 else 1, cancel=roll > 0.7)
                at = step
                for bump in bumps:
                    at += rng.randint(20, 40)
                    later.append((at, bump))
                later.sort(key=lambda item: item[0])
            elif kind == "arb":
                self._arbitrage(who)
        for _, bump in later:
            bump()
        if number % 7 == 0:
            self.campaign += 1  # a new airdrop; the mint goes on


def _slippage(quote: int, min_out: int) -> int:
    return (quote - min_out) * BPS // quote if quote > 0 else 0
