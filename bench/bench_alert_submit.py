"""What an alert costs the flow's hot path: microseconds per ``Dispatcher.submit``.

Routes 3 targets per alert (a Slack webhook, two Web API channels) to channels that refuse
connections, so delivery threads exist and retry but nothing waits on a network. Prints the cost
of a new alert and of a duplicate (dedup hit). With --no-threads the delivery threads are not
started: the cost without their competition for the GIL.
Usage: PYTHONPATH=. python bench/bench_alert_submit.py [N] [--no-threads] 2>/dev/null
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from connectors.alerts.base import Redactor
from connectors.alerts.dispatcher import Dispatcher
from flows.config import AlertsConfig
from flows.wiring.alerts import build_channels, build_router, policy_of, secrets_of
from operators.records import Alert, DeadLetter


def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp())
    (folder / "routes.yaml").write_text(
        "routes:\n  - send: [slack, {channel: slack_api, to: [C1, C2]}]\n"
    )
    dead = "http://127.0.0.1:9"  # the discard port: connection refused at once
    cfg = AlertsConfig(
        routes_path=str(folder / "routes.yaml"),
        slack_webhook_url=f"{dead}/services/T/B/x",
        slack_bot_token="xoxb-bench",
        slack_api_url=f"{dead}/api/",
        queue_size=3 * n + 10,
        backoff_base_s=30.0,
    )
    redact = Redactor(secrets_of(cfg))
    channels = build_channels(cfg, redact)
    letters: list[DeadLetter] = []
    dispatcher = Dispatcher(
        channels,
        build_router(cfg, sorted(channels)),
        policy_of(cfg),
        dead_letter=letters.append,
        redact=redact,
    )
    if "--no-threads" not in sys.argv:
        dispatcher.start()
    now = int(time.time() * 1000)
    alerts = [
        Alert(
            key=f"rule:{i}",
            origin="rule:bench",
            severity="high",
            title=f"bench alert {i}",
            chain_id=1,
            tx_hashes=("0x" + f"{i:064x}",),
            first_seen_ms=now,
            created_ms=now,
            tags=("bench",),
        )
        for i in range(n)
    ]
    started = time.perf_counter()
    for a in alerts:
        dispatcher.submit(a)
    fresh = time.perf_counter() - started
    started = time.perf_counter()
    for a in alerts:
        dispatcher.submit(a)
    repeat = time.perf_counter() - started
    dispatcher.close(0.0)
    print(f"alerts: {n}, targets per alert: 3")
    print(f"submit, new alert:       {fresh / n * 1e6:8.1f} us per alert")
    print(f"submit, duplicate alert: {repeat / n * 1e6:8.1f} us per alert")
    print(f"dead letters at close:   {len(letters)} (expected {3 * n})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 20_000)
