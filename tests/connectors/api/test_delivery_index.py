"""The API's in-memory delivery index (Kafka path): bounded by alert keys, latest status wins, and
the same answers as the delivery log (embedded path) for the same outcome records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.alerts.log import JsonlLog
from connectors.api.deliveries import DeliveryIndex, deliveries


def outcome(key: str, outcome: str, channel: str = "webhook", **extra: Any) -> dict[str, Any]:
    return {
        "at_ms": 1_700_000_000_000 + len(extra),
        "outcome": outcome,
        "key": key,
        "channel": channel,
        "recipient": "",
        "route": "default",
        "attempts": 1,
        **extra,
    }


def test_the_latest_status_of_each_target_wins_and_a_dedup_does_not_override() -> None:
    index = DeliveryIndex(10)
    index.add(
        [
            outcome("a", "retry", error="503 from webhook", attempts=1),
            outcome("a", "retry", "slack", error="slack 503", attempts=1),
            outcome("b", "sent"),
            outcome("a", "sent", attempts=2),
            outcome("a", "dead_letter", "slack", error="slack failed 2 attempts", attempts=2),
            outcome("a", "deduped", attempts=0),
        ]
    )
    found = {d["channel"]: d for d in index.lookup("a")}
    assert list(found) == ["webhook", "slack"]  # in the order first recorded
    assert found["webhook"]["status"] == "delivered"
    assert found["webhook"]["attempts"] == 2 and found["webhook"]["reason"] is None
    assert found["slack"]["status"] == "dead_lettered"
    assert found["slack"]["reason"] == "slack failed 2 attempts"
    assert [d["status"] for d in index.lookup("b")] == ["delivered"]
    assert index.lookup("nothing") == []
    # A dedup of a target never handed over before is its status.
    index.add([outcome("c", "deduped")])
    assert [d["status"] for d in index.lookup("c")] == ["deduplicated"]


def test_the_oldest_alert_keys_are_evicted_beyond_the_cap() -> None:
    index = DeliveryIndex(3)
    index.add([outcome(f"k{i}", "sent") for i in range(3)])
    # More outcomes of a key already held do not make room or evict.
    index.add([outcome("k0", "retry", "slack", error="x")])
    assert len(index) == 3 and index.evicted == 0
    index.add([outcome("k3", "sent"), outcome("k4", "sent")])
    assert len(index) == 3 and index.evicted == 2
    assert index.lookup("k0") == [] and index.lookup("k1") == []
    assert [d["status"] for d in index.lookup("k4")] == ["delivered"]
    assert index.add([{"outcome": "sent"}, {"key": 5, "outcome": "sent"}]) == 2
    assert len(index) == 3
    with pytest.raises(ValueError):
        DeliveryIndex(0)


def test_the_index_and_the_delivery_log_answer_alike(tmp_path: Path) -> None:
    records = [
        outcome("k", "retry", error="503", retry_in_s=0.5),
        outcome("other", "sent"),
        outcome("k", "sent", attempts=2, latency_s=0.1),
        outcome("k", "dead_letter", "email", error="alert rejected: email: 550"),
        outcome("k", "deduped", attempts=0),
        outcome("k", "no-such-outcome", "discord"),
    ]
    log = JsonlLog(tmp_path / "deliveries.jsonl")
    for record in records:
        log.write(record)
    index = DeliveryIndex(100)
    index.add(records)
    from_file = deliveries(log.path, "k")
    assert [d["channel"] for d in from_file] == ["webhook", "email"]
    assert index.lookup("k") == from_file
    assert from_file[0]["at"] == "2023-11-14T22:13:20.002000+00:00"
