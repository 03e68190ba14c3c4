"""From detections and rule matches to alerts, and the one-line console form of each."""

from __future__ import annotations

import re
from collections.abc import Callable

from operators import clock
from operators.records import SEVERITIES, Alert, Detection, RuleMatch

CHAIN_NAMES = {1: "ethereum", 10: "optimism", 8453: "base", 42161: "arbitrum"}

# ANSI SGR colours per severity: the eye finds critical and high first.
SEVERITY_COLORS = {
    "critical": "\x1b[1;97;41m",
    "high": "\x1b[1;31m",
    "medium": "\x1b[33m",
    "low": "\x1b[36m",
    "info": "\x1b[2m",
}
_RESET = "\x1b[0m"
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{40}\b")

# (chain id, lowercase address) -> the enrich stage's label, or None
Labeller = Callable[[int, str], str | None]


def chain_name(chain_id: int) -> str:
    return CHAIN_NAMES.get(chain_id, str(chain_id))


def detection_title(d: Detection) -> str:
    """What was found and where; the tx hashes travel whole in ``Alert.tx_hashes``."""
    subtype = d.data.get("subtype")
    label = f"{d.kind}/{subtype}" if subtype and subtype != d.kind else d.kind
    where = f" in block {d.block_number}" if d.block_number is not None else " in mempool"
    return f"{label}{where}"


# Detections that are records for analysis, not events to alert on: a block's private-flow share
# and each tx's payment to the builder describe every block, so as alerts they would bury the
# findings in one line per block and per paying tx. They still reach the archive, ClickHouse,
# detections.jsonl and the mev_bundles topic.
RECORD_KINDS = frozenset({"private_flow", "builder_payment"})


def alertable(item: Detection | RuleMatch) -> bool:
    return not (isinstance(item, Detection) and item.kind in RECORD_KINDS)


def to_alert(item: Detection | RuleMatch, now_ms: int | None = None) -> Alert:
    created = clock.now_ms() if now_ms is None else now_ms
    if isinstance(item, RuleMatch):
        return Alert(
            key=f"rule:{item.key}",
            origin=f"rule:{item.rule_id}",
            severity=item.severity,
            title=item.message,
            chain_id=item.chain_id,
            tx_hashes=(item.tx_hash,),
            first_seen_ms=item.first_seen_ms,
            created_ms=created,
            tags=item.tags,
        )
    return Alert(
        key=f"detection:{item.key}",
        origin=f"detector:{item.kind}",
        severity=item.severity,
        title=detection_title(item),
        chain_id=item.chain_id,
        tx_hashes=item.tx_hashes,
        first_seen_ms=item.first_seen_ms,
        created_ms=created,
        tags=(item.kind,),
        data=item.data,
    )


def at_least(severity: str, minimum: str) -> bool:
    """``severity`` ranks ``minimum`` or higher (unknown severities rank lowest)."""
    rank = {name: i for i, name in enumerate(SEVERITIES)}
    return rank.get(severity, -1) >= rank.get(minimum, 0)


def _no_labels(chain_id: int, address: str) -> str | None:
    return None


def console_line(alert: Alert, labels: Labeller = _no_labels, color: bool = False) -> str:
    """One line per alert: severity, chain, origin, the title with known addresses named, and
    every tx hash in full (copyable). No newline inside, whatever the title holds."""

    def named(match: re.Match[str]) -> str:
        return labels(alert.chain_id, match.group(0).lower()) or match.group(0)

    severity = f"{alert.severity.upper():<8}"
    if color:
        severity = f"{SEVERITY_COLORS.get(alert.severity, '')}{severity}{_RESET}"
    title = " ".join(_ADDRESS.sub(named, alert.title).split())
    txs = " ".join(alert.tx_hashes)
    return f"{severity} {chain_name(alert.chain_id):<9} {alert.origin}: {title}  tx {txs}"
