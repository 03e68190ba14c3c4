"""From detections and rule matches to alerts, and the one-line console form of each."""

from __future__ import annotations

import time

from operators.records import Alert, Detection, RuleMatch

CHAIN_NAMES = {1: "ethereum", 10: "optimism", 8453: "base", 42161: "arbitrum"}


def chain_name(chain_id: int) -> str:
    return CHAIN_NAMES.get(chain_id, str(chain_id))


def _short(tx_hash: str) -> str:
    return f"{tx_hash[:10]}…" if len(tx_hash) > 12 else tx_hash


def detection_title(d: Detection) -> str:
    subtype = d.data.get("subtype")
    label = f"{d.kind}/{subtype}" if subtype and subtype != d.kind else d.kind
    where = f" in block {d.block_number}" if d.block_number is not None else " in mempool"
    return f"{label}{where}: {', '.join(_short(h) for h in d.tx_hashes)}"


def to_alert(item: Detection | RuleMatch, now_ms: int | None = None) -> Alert:
    created = int(time.time() * 1000) if now_ms is None else now_ms
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


def console_line(alert: Alert) -> str:
    return f"[{alert.severity.upper():<8}] {chain_name(alert.chain_id):<9} {alert.origin}: {alert.title}"
