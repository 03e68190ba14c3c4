"""The lab's verdict: every detector's findings against the ground truth.

Mempool truth (from what the population sent, ``population.Truth``):

- ``sandwich_attempt``: (frontrun, victim, backrun) for every bot's attack and each victim it
  brackets: the swaps it targeted, and any other decoded swap on the pool in the same direction
  expected to land between its legs (tip, then arrival) and sent before its backrun - those are
  sandwiched too. Searchers' own legs and arbitrage calls are never victims.
- ``sandwichable_victim``: ordinary Router02 swaps whose tolerance against the quote at the head
  block is at least 50 bps (the detector's definition covers constant-product pools only).
- ``frontrun_copy``: (original, copy) of each generalised frontrunner's copy; crowds are not.
- ``replacement``: (old, new) of every speed-up, cancellation and gas-war bump.

Block truth (from the mined receipts' Swap logs, not from the traces the detectors read):

- ``sandwich``: a bot's frontrun and backrun that both went through in one block, frontrun
  first, with the txs between them that swapped on the pool in the frontrun's direction.
- ``arbitrage``: each arbitrageur's tx that went through.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from bench.lab.population import MIN_SLIPPAGE_BPS, Sent, Truth

V2_SWAP_TOPIC = "0x" + keccak(text="Swap(address,uint256,uint256,uint256,uint256,address)").hex()
MEMPOOL = ("sandwich_attempt", "sandwichable_victim", "frontrun_copy", "replacement")
BLOCK = ("sandwich", "arbitrage", "liquidation")
SEARCHER_ACTORS = {"sandwich_eoa", "sandwich_contract", "arbitrageur"}


@dataclass
class Score:
    detector: str
    truth: set[tuple[str, ...]]
    found: dict[tuple[str, ...], dict[str, Any]]
    latencies_ms: list[int] = field(default_factory=list)

    @property
    def true_positives(self) -> set[tuple[str, ...]]:
        return self.truth & set(self.found)

    @property
    def false_positives(self) -> list[tuple[str, ...]]:
        return sorted(set(self.found) - self.truth)

    @property
    def misses(self) -> list[tuple[str, ...]]:
        return sorted(self.truth - set(self.found))

    @property
    def precision(self) -> float:
        return len(self.true_positives) / len(self.found) if self.found else 1.0

    @property
    def recall(self) -> float:
        return len(self.true_positives) / len(self.truth) if self.truth else 1.0


def _bystanders(attack: Any, sent: Iterable[Sent]) -> list[Sent]:
    low, high = attack.front.order(), attack.back.order()
    return [
        s
        for s in sent
        if s.block == attack.front.block
        and s.actor not in SEARCHER_ACTORS
        and s.actor not in ("sandwich_eoa",)
        and (attack.pool, attack.way) in s.hops
        and low < s.order() < high
        and s.seq < attack.back.seq
    ]


def mempool_truth(truth: Truth) -> dict[str, set[tuple[str, ...]]]:
    sent = list(truth.sent.values())
    attempts: set[tuple[str, ...]] = set()
    for attack in truth.attacks:
        victims = {v.hash: v for v in attack.victims}
        victims.update({s.hash: s for s in _bystanders(attack, sent)})
        attempts |= {(attack.front.hash, v, attack.back.hash) for v in victims}
    return {
        "sandwich_attempt": attempts,
        "sandwichable_victim": {
            (s.hash,) for s in sent if s.ordinary_v2 and (s.slippage_bps or 0) >= MIN_SLIPPAGE_BPS
        },
        "frontrun_copy": {(o, c) for o, c, _ in truth.copies},
        "replacement": set(truth.replacements),
    }


def _swap_way(log: dict[str, Any]) -> bool:
    """True when token0 went in (a V2 Swap log's amount0In > 0)."""
    data = bytes.fromhex(log["data"][2:])
    return int.from_bytes(data[:32], "big") > 0


def block_truth(
    truth: Truth, receipts: dict[str, dict[str, Any]]
) -> dict[str, set[tuple[str, ...]]]:
    """``receipts``: every mined tx's receipt by hash."""
    by_block: dict[str, list[dict[str, Any]]] = {}
    for receipt in receipts.values():
        by_block.setdefault(receipt["blockHash"], []).append(receipt)
    for txs in by_block.values():
        txs.sort(key=lambda r: int(r["transactionIndex"], 16))

    def swaps_on(receipt: dict[str, Any], pool: str) -> list[bool]:
        return [
            _swap_way(log)
            for log in receipt["logs"]
            if log["address"].lower() == pool and log["topics"][0] == V2_SWAP_TOPIC
        ]

    sandwiches: set[tuple[str, ...]] = set()
    for attack in truth.attacks:
        front, back = receipts.get(attack.front.hash), receipts.get(attack.back.hash)
        if not front or not back or front["status"] != "0x1" or back["status"] != "0x1":
            continue
        if front["blockHash"] != back["blockHash"]:
            continue
        f_index, b_index = int(front["transactionIndex"], 16), int(back["transactionIndex"], 16)
        f_ways, b_ways = swaps_on(front, attack.pool), swaps_on(back, attack.pool)
        if f_index > b_index or not f_ways or not b_ways or f_ways[0] == b_ways[0]:
            continue
        victims = tuple(
            sorted(
                r["transactionHash"].lower()
                for r in by_block[front["blockHash"]]
                if f_index < int(r["transactionIndex"], 16) < b_index
                and r["status"] == "0x1"
                and f_ways[0] in swaps_on(r, attack.pool)
            )
        )
        if victims:
            sandwiches.add((attack.front.hash, *victims, attack.back.hash))
    arbitrages: set[tuple[str, ...]] = {
        (h,) for h in truth.arbitrages if receipts.get(h, {}).get("status") == "0x1"
    }
    return {"sandwich": sandwiches, "arbitrage": arbitrages, "liquidation": set()}


def _key(detection: dict[str, Any]) -> tuple[str, ...]:
    kind, hashes, data = detection["kind"], tuple(detection["tx_hashes"]), detection["data"]
    if kind == "sandwich":
        victims = sorted({v["tx_hash"] for v in data["victims"]})
        return (data["frontrun"]["tx_hash"], *victims, data["backrun"]["tx_hash"])
    if kind == "arbitrage":
        return (hashes[0],)
    return hashes


def score(
    detections: list[dict[str, Any]],
    truth: Truth,
    receipts: dict[str, dict[str, Any]],
    mined_ms: dict[int, int],
) -> list[Score]:
    expected = {**mempool_truth(truth), **block_truth(truth, receipts)}
    scores = []
    lab_hashes = set(truth.sent)
    for detector in (*MEMPOOL, *BLOCK):
        found: dict[tuple[str, ...], dict[str, Any]] = {}
        latencies = []
        for d in detections:
            if d["kind"] != detector:
                continue
            key = _key(d)
            # Only what the scenario sent is judged (the set-up blocks came before the flow).
            if not set(key) <= lab_hashes or key in found:
                continue
            found[key] = d
            if d.get("block_number") is None:
                sent_ms = max(truth.sent[h].sent_ms for h in key)
            else:
                sent_ms = mined_ms.get(d["block_number"], d["detected_ms"])
            latencies.append(d["detected_ms"] - sent_ms)
        scores.append(Score(detector, expected[detector], found, latencies))
    return scores


def _ms(values: list[int], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return str(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def table(scores: list[Score]) -> str:
    lines = [
        "| detector | truth | alerts | TP | FP | missed | precision | recall | alert ms p50 | p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            f"| {s.detector} | {len(s.truth)} | {len(s.found)} | {len(s.true_positives)} | "
            f"{len(s.false_positives)} | {len(s.misses)} | {s.precision:.3f} | {s.recall:.3f} | "
            f"{_ms(s.latencies_ms, 0.5)} | {_ms(s.latencies_ms, 0.95)} |"
        )
    return "\n".join(lines)


def listing(scores: list[Score], truth: Truth) -> str:
    """Every false positive and every miss, with what the population says each tx was."""

    def who(hashes: tuple[str, ...]) -> str:
        parts = []
        for h in hashes:
            s = truth.sent.get(h)
            parts.append(f"{h[:10]}({s.actor}@{s.block},tip={s.tip / 1e9:.4f})" if s else h[:10])
        return " ".join(parts)

    lines = []
    for s in scores:
        for key in s.false_positives:
            lines.append(f"FP   {s.detector}: {who(key)} why={s.found[key]['data'].get('why', '')}")
        for key in s.misses:
            lines.append(f"MISS {s.detector}: {who(key)}")
    return "\n".join(lines)


def median(values: list[int]) -> float:
    return statistics.median(values) if values else 0.0
