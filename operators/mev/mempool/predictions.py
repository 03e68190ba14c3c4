"""Inclusion link: sandwiches found in a block, matched to the mempool alerts that predicted them.

Per chain (the key), the linker keeps recent ``sandwich_attempt`` detections by their
(frontrun, victim, backrun) hashes, ``sandwichable_victim`` detections by victim hash, and the
blocks' ``sandwich`` detections by victim hash. Whenever both sides of a pair are present,
whichever came first through the flow (workers race), one ``sandwich_predicted`` detection links
them: per (block, frontrun, victim, alert kind), so a victim foreseen by both mempool detectors
gives two links, each with its own alert, and the result does not depend on arrival order.

How early the warning came:

- ``alert_lead_ms``: block first seen minus when the alert was raised (its ``detected_ms``, wall
  time): the time a user had to act. Live, positive; in a replay of recorded data the alert is
  raised now and the block was seen when recorded, so it is meaningless (negative) there.
- ``pending_lead_ms``: block first seen minus the victim's first sighting (event time, valid in
  replays too).

A separate detection rather than fields added to the block's ``sandwich``: the block detection
is complete when the block is and must stay the same whatever the mempool saw (``detect-block``
and block replays produce it without any mempool); the link is a later fact with its own natural
key.

Memory: the two sides reach the linker along paths of different lag (block detection is quick,
mempool windows wait for their watermark), so each side is aged by the other's progress in
event time: an alert is forgotten once blocks first seen ``horizon_ms`` after it have arrived (its
txs were not mined as that sandwich), a block's sandwich once alerts on txs first seen
``horizon_ms`` after it have arrived. Aging needs both sides to move: with no blocks arriving
(a mempool-only source) alerts would never age, so each table also holds at most
``max_victims`` victims, the earliest recorded forgotten first
(``scorpius_state_evictions{stage="predicted"}``).

Precision in production: each alert is counted once in
``scorpius_mempool_alert_outcomes{detector, outcome}``: ``confirmed`` when a block's sandwich
links to it, ``unconfirmed`` when it is forgotten (aged past the horizon or evicted) without one.
The share confirmed is the live precision of ``sandwich_attempt``; for ``sandwichable_victim`` it
is the share of exposed swaps that were in fact sandwiched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

from operators.metrics import ALERT_OUTCOMES
from operators.mev.mempool.capped import evict_oldest
from operators.records import Detection

ATTEMPT = "sandwich_attempt"
SANDWICHABLE = "sandwichable_victim"
SANDWICH = "sandwich"
PREDICTED = "sandwich_predicted"
KINDS = frozenset({ATTEMPT, SANDWICHABLE, SANDWICH})
# Victims per table and chain (config detect.prediction_max_victims).
MAX_VICTIMS = 100_000


def window_key(detection: Detection) -> str:
    return str(detection.chain_id)


def _victim_of(detection: Detection) -> str:
    return detection.tx_hashes[1] if detection.kind == ATTEMPT else detection.tx_hashes[0]


def _sandwich_txs(sandwich: Detection) -> tuple[str, list[str], str]:
    data = sandwich.data
    victims = list(dict.fromkeys(v["tx_hash"] for v in data["victims"]))
    return data["frontrun"]["tx_hash"], victims, data["backrun"]["tx_hash"]


@dataclass
class SandwichPredictions:
    horizon_ms: int = 600_000
    # victim hash -> mempool alerts naming it (attempts and sandwichable-victim findings)
    alerts: dict[str, dict[str, Detection]] = field(default_factory=dict)
    # victim hash -> block sandwiches holding it, by detection key
    sandwiches: dict[str, dict[str, Detection]] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)
    # Newest first-seen time of each side, and of the last sweep.
    block_clock_ms: int = 0
    alert_clock_ms: int = 0
    swept_ms: int = 0
    max_victims: int = MAX_VICTIMS
    # Alert keys a block confirmed (oldest first), and outcomes not yet handed to the flow.
    confirmed: dict[str, None] = field(default_factory=dict)
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    def drain_outcomes(self) -> list[tuple[str, str]]:
        """(alert kind, "confirmed" | "unconfirmed") since the last call, for the run summary."""
        out, self.outcomes = self.outcomes, []
        return out

    def _outcome(self, alert: Detection, outcome: str) -> None:
        ALERT_OUTCOMES.labels(alert.kind, outcome).inc()
        self.outcomes.append((alert.kind, outcome))

    def _forgotten(self, alerts: dict[str, Detection]) -> None:
        for key, alert in alerts.items():
            if key in self.confirmed:
                del self.confirmed[key]
            else:  # never confirmed: the blocks did not bear it out
                self._outcome(alert, "unconfirmed")

    def on_detection(self, detection: Detection) -> list[Detection]:
        if detection.kind not in KINDS:
            return []
        found: list[Detection] = []
        if detection.kind == SANDWICH:
            if detection.block_number is None:
                return []
            self.block_clock_ms = max(self.block_clock_ms, detection.first_seen_ms)
            _, victims, _ = _sandwich_txs(detection)
            for victim in victims:
                self.sandwiches.setdefault(victim, {})[detection.key] = detection
                for alert in self.alerts.get(victim, {}).values():
                    found += self._link(detection, victim, alert)
        else:
            self.alert_clock_ms = max(self.alert_clock_ms, detection.first_seen_ms)
            victim = _victim_of(detection)
            mine = self.alerts.setdefault(victim, {})
            if detection.key not in mine:
                mine[detection.key] = detection
            for sandwich in self.sandwiches.get(victim, {}).values():
                found += self._link(sandwich, victim, detection)
        self._expire()
        self._bound()
        return found

    def _bound(self) -> None:
        for table, limit in (
            (self.alerts, "max_alert_victims"),
            (self.sandwiches, "max_block_victims"),
            (self.reported, "max_reported"),
        ):
            forgotten = self._forgotten if table is self.alerts else None
            evict_oldest(table, self.max_victims, "predicted", limit, forgotten)
        over = len(self.confirmed) - self.max_victims
        for key in list(islice(self.confirmed, max(over, 0))):
            del self.confirmed[key]

    def _link(self, sandwich: Detection, victim: str, alert: Detection) -> list[Detection]:
        front, _, back = _sandwich_txs(sandwich)
        if alert.kind == ATTEMPT and alert.tx_hashes != (front, victim, back):
            return []  # the same victim, but another searcher's (or another) pair
        key = (
            f"{sandwich.chain_id}:{PREDICTED}:{sandwich.block_number}:{front}:{victim}:{alert.kind}"
        )
        if key in self.reported:
            return []
        self.reported[key] = sandwich.first_seen_ms
        if alert.key not in self.confirmed:
            self.confirmed[alert.key] = None
            self._outcome(alert, "confirmed")
        data = sandwich.data
        block_seen = sandwich.first_seen_ms
        return [
            Detection(
                key=key,
                kind=PREDICTED,
                chain_id=sandwich.chain_id,
                tx_hashes=(front, victim, back),
                first_seen_ms=alert.first_seen_ms,
                detected_ms=max(sandwich.detected_ms, alert.detected_ms),
                severity="info",
                block_number=sandwich.block_number,
                data={
                    "block_hash": data.get("block_hash"),
                    "sandwich": sandwich.key,
                    "pool": data.get("pool"),
                    "victim": victim,
                    "predicted_by": alert.kind,
                    "alert": alert.key,
                    "alert_detected_ms": alert.detected_ms,
                    "victim_first_seen_ms": alert.first_seen_ms,
                    "block_first_seen_ms": block_seen,
                    "alert_lead_ms": block_seen - alert.detected_ms,
                    "pending_lead_ms": block_seen - alert.first_seen_ms,
                    "predicted_profit": alert.data.get("extractable_profit"),
                    "profit_token": data.get("profit_token"),
                    "profit_amount": data.get("profit_amount"),
                    "why": f"{alert.kind} alert raised on the victim while it was pending",
                },
            )
        ]

    def _expire(self) -> None:
        # A sweep walks every entry: do it every eighth of the horizon, not per detection.
        clock = max(self.block_clock_ms, self.alert_clock_ms)
        if clock - self.swept_ms < self.horizon_ms // 8:
            return
        self.swept_ms = clock
        for table, horizon in (
            (self.alerts, self.block_clock_ms - self.horizon_ms),
            (self.sandwiches, self.alert_clock_ms - self.horizon_ms),
        ):
            for victim in list(table):
                kept = {k: d for k, d in table[victim].items() if d.first_seen_ms >= horizon}
                if table is self.alerts:
                    self._forgotten({k: d for k, d in table[victim].items() if k not in kept})
                if kept:
                    table[victim] = kept
                else:
                    del table[victim]
        stale = self.alert_clock_ms - self.horizon_ms
        for key in [k for k, at in self.reported.items() if at < stale]:
            del self.reported[key]
