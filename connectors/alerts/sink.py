"""The bytewax sink of alerts (flows/wiring/alerts.py builds it, its channels and routes).

Wiring (flows/mempool.py)::

    sink = build_alert_sink(cfg.alerts, out_dir, dead_letter=JsonlLog(out / "alert_dead_letters.jsonl").write)
    if sink is not None:
        op.output("alerts_deliver", op.map("for_alert_sink", alerts, for_alert_sink), sink)

One partition: every alert passes one dispatcher, so dedup and rate limits hold across workers,
and its resume state (dedup memory, unfinished deliveries) is snapshotted with the flow's epochs.
Before each batch the partition asks the routes file (connectors/alerts/routes_file.py) whether
the routes changed, and swaps the dispatcher's table when they did.
"""

from __future__ import annotations

from collections.abc import Callable

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from connectors.alerts.dispatcher import Dispatcher, DispatcherState
from connectors.alerts.routes_file import RoutesFile
from operators.records import Alert

PARTITION = "alerts"


def for_alert_sink(alert: Alert) -> tuple[str, Alert]:
    """An alert as the ``(partition key, item)`` pair ``AlertSink`` takes."""
    return (PARTITION, alert)


class _AlertPartition(StatefulSinkPartition[Alert, DispatcherState]):
    def __init__(
        self,
        dispatcher: Dispatcher,
        resume: DispatcherState | None,
        drain_timeout_s: float,
        routes: RoutesFile | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._drain_timeout_s = drain_timeout_s
        self._routes = routes
        if resume is not None:
            dispatcher.restore(resume)
        dispatcher.start()

    def write_batch(self, values: list[Alert]) -> None:
        if self._routes is not None:
            router = self._routes.changed()
            if router is not None:
                self._dispatcher.set_router(router)
        for alert in values:
            self._dispatcher.submit(alert)

    def snapshot(self) -> DispatcherState:
        return self._dispatcher.snapshot()

    def close(self) -> None:
        self._dispatcher.close(self._drain_timeout_s)


class AlertSink(FixedPartitionedSink[Alert, DispatcherState]):
    """Hands alerts to a ``Dispatcher``; ``write_batch`` never waits for a channel."""

    def __init__(
        self,
        make_dispatcher: Callable[[], Dispatcher],
        drain_timeout_s: float,
        routes: RoutesFile | None = None,
    ) -> None:
        self._make = make_dispatcher
        self._drain_timeout_s = drain_timeout_s
        self._routes = routes

    def list_parts(self) -> list[str]:
        return [PARTITION]

    def build_part(
        self, step_id: str, for_part: str, resume_state: DispatcherState | None
    ) -> _AlertPartition:
        return _AlertPartition(self._make(), resume_state, self._drain_timeout_s, self._routes)
