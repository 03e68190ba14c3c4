"""Sandwich attempts in the mempool: one sender's pair of txs bracketing a victim's swap on the
same pool.

The victim is a decoded swap intent (its pools follow from its path, see ``pools``). A
searcher's tx "touches" that pool when it is a decoded swap on it, or when it is a call the
enricher could not decode whose calldata carries the pool's address or both of its tokens (bots
call their own contracts with packed calldata naming the pair or its tokens). The attempt is
two such txs from one sender to one contract, other than the victim's, one expected to land
before the victim and one after (``order.block_order``: higher tip first, ties by arrival).
The classic public-mempool shape - frontrun tip just above the victim's, backrun just below -
is flagged ``fee_bracketed`` with severity high. When the searcher's txs are decoded, the
frontrun must trade the victim's way and the backrun the reverse way. When both are undecoded and
each names a different one of the pool's tokens alone, the frontrun must name the victim's input
token (a bot names the token it pays the pair with).

A searcher builds the bracket after seeing the victim, so the backrun must be first seen at or
after the victim: two txs that were pending before a swap arrived do not bracket it. A victim is
an ordinary swap, not a searcher's leg: a swap whose sender has a tx pending through the same
contract on the same pool the other way (a round trip) is never a victim.

Lifecycle: the window also receives mined sightings. A tx seen mined, or replaced (another tx
of its sender and nonce, pending or mined), leaves the state at once and a later pending
sighting of it (or of any tx at a nonce its sender has had mined) is ignored, so no attempt
combines a tx with one mined in an earlier block.

Windowing: one state per chain (``window_key``), event time = ``first_seen_ms``; a window of a
block time or two keeps the state small. The state is a plain object (``on_tx`` returns the
detections as they complete), so the lead can hold it in ``bytewax.operators.windowing``.

State is bounded (operators/LIMITS.md): a busy chain never leaves a gap long enough to close its
session window, so at most ``max_pending`` txs are held; over it the earliest-arrived are
forgotten (``scorpius_state_evictions{stage="sandwich_attempt"}``), as are the oldest reported
keys beyond the same number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from operators.mev.mempool.capped import evict_oldest
from operators.mev.mempool.order import block_order
from operators.mev.pools import BUNDLED, AmmFactories, Hop
from operators.records import Detection, EnrichedTx, Tx

# Pending txs one chain's window holds (config detect.sandwich_max_pending).
MAX_PENDING = 10_000


def window_key(etx: EnrichedTx) -> str:
    return str(etx.tx.chain_id)


@dataclass(frozen=True)
class _Pending:
    etx: EnrichedTx
    hops: tuple[Hop, ...]
    data: str  # calldata in lowercase hex, searched for pool and token addresses
    pools: frozenset[str]

    def direction(self, pool: str) -> tuple[str, str] | None:
        for hop in self.hops:
            if hop.pool == pool:
                return hop.token_in, hop.token_out
        return None

    def single_token(self, hop: Hop) -> str | None:
        """The one token of ``hop``'s pool an undecoded call names, if it names exactly one."""
        named = self.named
        has_in, has_out = hop.token_in[2:] in named, hop.token_out[2:] in named
        if has_in == has_out:
            return None
        return hop.token_in if has_in else hop.token_out

    @cached_property
    def named(self) -> frozenset[str]:
        """Every 20-byte run at a byte boundary of undecoded calldata, as 40 hex digits: the
        addresses it may name (bots pack them with or without ABI padding, with or without a
        selector). Built on first use, which only txs of a searcher's group reach."""
        if self.etx.call is not None:
            # A call the enricher understood (a router swap elsewhere, a liquidity removal, ...)
            # says what it does; naming the tokens does not make it a trade on this pool.
            return frozenset()
        data = self.data
        return frozenset(data[i : i + 40] for i in range(2, len(data) - 39, 2))

    def touches(self, hop: Hop) -> bool:
        if hop.pool in self.pools:
            return True
        named = self.named
        return bool(named) and (
            hop.pool[2:] in named or (hop.token_in[2:] in named and hop.token_out[2:] in named)
        )


# A searcher's txs that could bracket a victim: one sender, one contract.
_Group = tuple[str, str | None]


def _group(pending: _Pending) -> _Group:
    return pending.etx.tx.sender, pending.etx.tx.to


@dataclass
class _Index:
    """Which searchers' groups and which victims' hops a tx can meet.

    A decoded tx touches exactly the pools of its hops; an undecoded one (``_Pending.named``)
    may name any pool or token pair, so groups holding one are always candidates and its
    hops are found through the addresses its calldata names. Candidates come back in the
    order the full scan would visit them (pairs and victims' hops by insertion rank), so the
    detections and their order are those of a scan over every group and hop.
    """

    rank: int = 0
    # Per pool, the groups with a decoded tx on it (how many of the group's txs).
    pool_groups: dict[str, dict[_Group, int]] = field(default_factory=dict)
    # Groups holding undecoded txs (how many), and those of them that are pairs.
    opaque: dict[_Group, int] = field(default_factory=dict)
    opaque_pairs: set[_Group] = field(default_factory=set)
    # Victims' hops with their insertion rank, and by pool and input token (40 hex digits).
    hop_rank: dict[Hop, int] = field(default_factory=dict)
    hops_by_pool: dict[str, set[Hop]] = field(default_factory=dict)
    hops_by_token: dict[str, set[Hop]] = field(default_factory=dict)

    def next_rank(self) -> int:
        self.rank += 1
        return self.rank

    def add_member(self, pending: _Pending, group: _Group) -> None:
        for pool in pending.pools:
            groups = self.pool_groups.setdefault(pool, {})
            groups[group] = groups.get(group, 0) + 1
        if pending.etx.call is None:
            self.opaque[group] = self.opaque.get(group, 0) + 1

    def drop_member(self, pending: _Pending, group: _Group) -> None:
        for pool in pending.pools:
            groups = self.pool_groups[pool]
            if groups[group] > 1:
                groups[group] -= 1
            else:
                del groups[group]
                if not groups:
                    del self.pool_groups[pool]
        if pending.etx.call is None:
            if self.opaque[group] > 1:
                self.opaque[group] -= 1
            else:
                del self.opaque[group]

    def regroup(self, group: _Group, is_pair: bool) -> None:
        if is_pair and group in self.opaque:
            self.opaque_pairs.add(group)
        else:
            self.opaque_pairs.discard(group)

    def groups_on(self, pool: str, pairs: dict[_Group, int]) -> list[_Group]:
        """The pairs that may touch ``pool``, in pair order."""
        found = {g for g in self.pool_groups.get(pool, ()) if g in pairs}
        found.update(self.opaque_pairs)
        return sorted(found, key=pairs.__getitem__)

    def add_victim_hop(self, hop: Hop) -> None:
        self.hop_rank[hop] = self.next_rank()
        self.hops_by_pool.setdefault(hop.pool[2:], set()).add(hop)
        self.hops_by_token.setdefault(hop.token_in[2:], set()).add(hop)

    def drop_victim_hop(self, hop: Hop) -> None:
        del self.hop_rank[hop]
        for table, key in (
            (self.hops_by_pool, hop.pool[2:]),
            (self.hops_by_token, hop.token_in[2:]),
        ):
            hops = table[key]
            hops.discard(hop)
            if not hops:
                del table[key]

    def victim_hops(self, pending: _Pending) -> list[Hop]:
        """The victims' hops ``pending`` may touch, in the victims' order."""
        named = pending.named
        if len(named) > len(self.hop_rank):
            # Long undecoded calldata names more addresses than the window holds hops: scanning
            # the hops (the rank order is their insertion order) is the cheaper way.
            return [hop for hop in self.hop_rank if pending.touches(hop)]
        found: set[Hop] = set()
        for pool in pending.pools:
            found.update(self.hops_by_pool.get(pool[2:], ()))
        for address in named:
            found.update(self.hops_by_pool.get(address, ()))
            found.update(h for h in self.hops_by_token.get(address, ()) if h.token_out[2:] in named)
        return sorted(found, key=self.hop_rank.__getitem__)


@dataclass
class SandwichAttemptDetector:
    """State of one chain's window: pending txs by (sender, contract), victims by pool.

    Only groups holding two txs or more can bracket a victim, and most senders have one tx
    pending, so those groups are indexed apart (``pairs``): the cost of a tx depends on the
    searchers' groups in the window, not on every pending tx.
    """

    by_group: dict[_Group, list[_Pending]] = field(default_factory=dict)
    # The groups of by_group with two txs or more, each with its rank (when it became a pair).
    pairs: dict[_Group, int] = field(default_factory=dict)
    victims: dict[Hop, list[_Pending]] = field(default_factory=dict)
    # Indexes over the tables above, so a tx costs what its own pools hold rather than what the
    # whole window holds. Rebuilt from ``arrived`` when the state is restored (__setstate__).
    index: _Index = field(default_factory=lambda: _Index())
    # Keys of detections already emitted, oldest first (a dict as an ordered set).
    reported: dict[str, None] = field(default_factory=dict)
    factories: AmmFactories = BUNDLED
    max_pending: int = MAX_PENDING
    # Every pending tx by hash, in arrival order: what the cap evicts first.
    arrived: dict[str, _Pending] = field(default_factory=dict)
    # Hashes seen mined or replaced, oldest first (a dict as an ordered set).
    gone: dict[str, None] = field(default_factory=dict)
    # Highest nonce seen mined per sender: a pending tx at or below it can no longer land.
    mined_nonce: dict[str, int] = field(default_factory=dict)
    # Held pending txs by (sender, nonce), to drop the replaced one.
    by_nonce: dict[tuple[str, int], str] = field(default_factory=dict)

    def on_tx(self, etx: EnrichedTx, now_ms: int | None = None) -> list[Detection]:
        tx = etx.tx
        if tx.block_number is not None:
            self._settle(etx)
            return []
        if tx.hash in self.arrived or tx.hash in self.gone or self._stale(etx):
            return []
        if tx.nonce is not None:
            replaced = self.by_nonce.get((tx.sender, tx.nonce))
            if replaced is not None:
                self._drop(replaced)
        pending = self._pending(etx)
        self._add(pending)
        self._bound()
        found: list[Detection] = []
        # The new tx as a victim, searchers' txs already pending around it ...
        for hop in pending.hops:
            found += self._check(pending, hop, now_ms)
        # ... or as the missing half of a bracket around a pending victim: only a tx whose
        # sender already has another tx to the same contract can complete one, and only its own
        # group's brackets change (any other group's were checked when they completed). Checking
        # every group here made a tx cost victims x groups: a sender with many pending txs on
        # busy pools could stall the window.
        group = _group(pending)
        if group in self.pairs:
            for hop in self.index.victim_hops(pending):
                if pending.touches(hop):
                    for victim in self.victims[hop]:
                        if victim.etx.tx.sender != tx.sender:
                            found += self._check(victim, hop, now_ms, (group,))
        return found

    def _stale(self, etx: EnrichedTx) -> bool:
        tx = etx.tx
        return tx.nonce is not None and self.mined_nonce.get(tx.sender, -1) >= tx.nonce

    def _settle(self, etx: EnrichedTx) -> None:
        """A mined sighting: the tx, and any other of its sender at its nonce, leave the state."""
        tx = etx.tx
        self._drop(tx.hash)
        if tx.nonce is not None:
            other = self.by_nonce.get((tx.sender, tx.nonce))
            if other is not None:
                self._drop(other)
            if self.mined_nonce.get(tx.sender, -1) < tx.nonce:
                self.mined_nonce.pop(tx.sender, None)  # re-inserted last: newest activity
                self.mined_nonce[tx.sender] = tx.nonce
        self._bound()

    def _drop(self, tx_hash: str) -> None:
        self.gone[tx_hash] = None
        pending = self.arrived.pop(tx_hash, None)
        if pending is not None:
            self._forget(pending)

    def _add(self, pending: _Pending) -> None:
        tx = pending.etx.tx
        self.arrived[tx.hash] = pending
        if tx.nonce is not None:
            self.by_nonce[(tx.sender, tx.nonce)] = tx.hash
        group = _group(pending)
        members = self.by_group.setdefault(group, [])
        members.append(pending)
        index = self.index
        if len(members) == 2:
            self.pairs[group] = index.next_rank()
        index.add_member(pending, group)
        for hop in pending.hops:
            victims = self.victims.get(hop)
            if victims is None:
                victims = self.victims[hop] = []
                index.add_victim_hop(hop)
            victims.append(pending)
        index.regroup(group, group in self.pairs)

    def _forget(self, pending: _Pending) -> None:
        tx = pending.etx.tx
        if tx.nonce is not None and self.by_nonce.get((tx.sender, tx.nonce)) == tx.hash:
            del self.by_nonce[(tx.sender, tx.nonce)]
        group = _group(pending)
        members = [p for p in self.by_group.get(group, ()) if p is not pending]
        if members:
            self.by_group[group] = members
        else:
            self.by_group.pop(group, None)
        if len(members) < 2:
            self.pairs.pop(group, None)
        index = self.index
        index.drop_member(pending, group)
        index.regroup(group, group in self.pairs)
        for hop in pending.hops:
            left = [p for p in self.victims.get(hop, ()) if p is not pending]
            if left:
                self.victims[hop] = left
            elif self.victims.pop(hop, None) is not None:
                index.drop_victim_hop(hop)

    def _bound(self) -> None:
        evict_oldest(
            self.arrived, self.max_pending, "sandwich_attempt", "max_pending", self._forget
        )
        for table, limit in (
            (self.reported, "max_reported"),
            (self.gone, "max_gone"),
            (self.mined_nonce, "max_mined_senders"),
        ):
            evict_oldest(table, self.max_pending, "sandwich_attempt", limit)

    def _round_trip(self, pending: _Pending, hop: Hop) -> bool:
        """Whether ``pending``'s sender also has a tx on ``hop``'s pool the other way through
        the same contract: a searcher's leg, not a victim."""
        reverse = (hop.token_out, hop.token_in)
        if pending.direction(hop.pool) is None:
            return False
        return any(
            p is not pending and p.direction(hop.pool) == reverse
            for p in self.by_group.get(_group(pending), ())
        )

    def _check(
        self,
        victim: _Pending,
        hop: Hop,
        now_ms: int | None,
        groups: tuple[_Group, ...] | None = None,
    ) -> list[Detection]:
        found = []
        pool = hop.pool
        victim_tx = victim.etx.tx
        if self._round_trip(victim, hop):
            return []
        victim_at = block_order(victim_tx)
        way = (hop.token_in, hop.token_out)
        for group in self.index.groups_on(pool, self.pairs) if groups is None else groups:
            sender, _ = group
            if sender == victim_tx.sender:
                continue
            txs = self.by_group[group]
            touching = [p for p in txs if p.touches(hop)]
            if len(touching) < 2:
                continue
            fronts = [p for p in touching if block_order(p.etx.tx) < victim_at]
            backs = [p for p in touching if block_order(p.etx.tx) > victim_at]
            reverse = (way[1], way[0])
            fronts = [p for p in fronts if p.direction(pool) in (None, way)]
            # The bracket is built on seeing the victim: its backrun cannot predate it.
            backs = [
                p
                for p in backs
                if p.direction(pool) in (None, reverse)
                and p.etx.tx.first_seen_ms >= victim_tx.first_seen_ms
            ]
            if not fronts or not backs:
                continue
            # The closest pair around the victim, through one contract (a searcher's bot or the
            # same router), is the one a builder would bundle.
            front = max(fronts, key=lambda p: block_order(p.etx.tx))
            back = min(backs, key=lambda p: block_order(p.etx.tx))
            # Undecoded legs naming one different token each trade opposite ways: the frontrun
            # pays the pair with the token it names, so it must name the victim's input.
            paid, repaid = front.single_token(hop), back.single_token(hop)
            if paid and repaid and paid != repaid and (paid, repaid) != way:
                continue
            detection = self._detection(victim, front, back, hop, now_ms)
            if detection.key not in self.reported:
                self.reported[detection.key] = None
                found.append(detection)
        return found

    def _detection(
        self,
        victim: _Pending,
        front: _Pending,
        back: _Pending,
        hop: Hop,
        now_ms: int | None,
    ) -> Detection:
        v, f, b = victim.etx.tx, front.etx.tx, back.etx.tx
        fee_bracketed = f.tip_cap > v.tip_cap > b.tip_cap
        latest = max(v.first_seen_ms, f.first_seen_ms, b.first_seen_ms)
        return Detection(
            key=f"{v.chain_id}:sandwich_attempt:{v.hash}:{f.hash}:{b.hash}",
            kind="sandwich_attempt",
            chain_id=v.chain_id,
            tx_hashes=(f.hash, v.hash, b.hash),
            first_seen_ms=v.first_seen_ms,
            detected_ms=now_ms if now_ms is not None else latest,
            severity="high" if fee_bracketed else "medium",
            data={
                "pool": hop.pool,
                "pool_family": hop.family,
                "protocol": victim.etx.swaps[0].protocol if victim.etx.swaps else None,
                "tokens": [hop.token_in, hop.token_out],
                "victim": v.hash,
                "victim_sender": v.sender,
                "frontrun": f.hash,
                "backrun": b.hash,
                "searcher": f.sender,
                "searcher_contract": f.to,
                "tips": {"frontrun": f.tip_cap, "victim": v.tip_cap, "backrun": b.tip_cap},
                "fee_caps": {"frontrun": f.fee_cap, "victim": v.fee_cap, "backrun": b.fee_cap},
                "fee_bracketed": fee_bracketed,
                "why": _why(f, v, b),
            },
        )

    def __getstate__(self) -> dict[str, Any]:
        # Bytewax pickles window state at every epoch's end, recovery or not: keep only what
        # the indexes are built from (the txs in arrival order), not the indexes themselves.
        return {
            "etxs": [p.etx for p in self.arrived.values()],
            "reported": list(self.reported),
            "gone": list(self.gone),
            "mined_nonce": self.mined_nonce,
            "factories": self.factories,
            "max_pending": self.max_pending,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            reported=dict.fromkeys(state["reported"]),
            gone=dict.fromkeys(state["gone"]),
            mined_nonce=state["mined_nonce"],
            factories=state["factories"],
            max_pending=state["max_pending"],
        )
        for etx in state["etxs"]:
            self._add(self._pending(etx))

    def _pending(self, etx: EnrichedTx) -> _Pending:
        tx = etx.tx
        path = tuple(h for s in etx.swaps for h in self.factories.hops(tx.chain_id, s))
        return _Pending(etx, path, tx.input.lower(), frozenset(h.pool for h in path))

    def merge(self, other: SandwichAttemptDetector) -> None:
        """Take in another window's state (session windows that grow together)."""
        self.gone.update(other.gone)
        for sender, nonce in other.mined_nonce.items():
            self.mined_nonce[sender] = max(nonce, self.mined_nonce.get(sender, -1))
        for tx_hash in [h for h in self.arrived if h in self.gone]:
            self._drop(tx_hash)
        for tx_hash, pending in other.arrived.items():
            if tx_hash not in self.arrived and tx_hash not in self.gone:
                self._add(pending)
        self.reported.update(other.reported)
        self._bound()


def _relation(mine: int, theirs: int) -> str:
    return "above" if mine > theirs else "below" if mine < theirs else "equal to"


def _why(f: Tx, v: Tx, b: Tx) -> str:
    """What the data shows: each leg's tip against the victim's, and when each was first seen."""
    return (
        f"one sender's txs on the victim's pool: frontrun tip {_relation(f.tip_cap, v.tip_cap)} "
        f"the victim's, backrun tip {_relation(b.tip_cap, v.tip_cap)} it (block order: tip, "
        f"then arrival); frontrun first seen {_ms(f.first_seen_ms - v.first_seen_ms)} the "
        f"victim, backrun {_ms(b.first_seen_ms - v.first_seen_ms)} it"
    )


def _ms(delta: int) -> str:
    return f"{delta} ms after" if delta >= 0 else f"{-delta} ms before"
