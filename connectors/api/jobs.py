"""Backtests as jobs: a rule set over an archive time range, with progress and a result.

Jobs run one at a time on a worker thread of the API process and record their state in the
database, so any API pod can answer ``GET /backtests/{id}``.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from connectors.api.rulebook import run_rules
from connectors.api.store import Job, Store, row_view
from connectors.archive_query import Filters, files_to_read, iter_rows
from connectors.archive_tables import tx_from_row
from operators.enrich import enrich
from operators.records import EnrichedTx

log = logging.getLogger(__name__)


def job_view(row: Job) -> dict[str, Any]:
    columns = ("job_id", "kind", "status", "progress", "params", "result", "error")
    view = row_view(row, *columns, "created_at", "updated_at")
    return {**view, "progress": round(row.progress, 4)}


class Backtests:
    def __init__(
        self, store: Store, archive_url: str, storage_options: dict[str, Any] | None = None
    ) -> None:
        self._store = store
        self._archive = archive_url
        self._options = storage_options
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-backtest")

    def submit(
        self, rules: dict[str, tuple[str, str]], filters: Filters, params: dict[str, Any], by: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        row = Job(
            job_id=secrets.token_hex(8),
            kind="backtest",
            status="queued",
            progress=0.0,
            params=params,
            result=None,
            error=None,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        with self._store.session() as session:
            session.add(row)
        self._pool.submit(self._run, row.job_id, rules, filters)
        return job_view(row)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._store.session() as session:
            row = session.get(Job, job_id)
        return None if row is None else job_view(row)

    def _update(self, job_id: str, **values: Any) -> None:
        with self._store.session() as session:
            row = session.get(Job, job_id)
            if row is None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = datetime.now(UTC)

    def _txs(self, job_id: str, filters: Filters) -> Iterator[EnrichedTx]:
        files = files_to_read(self._archive, "transactions", filters, self._options)
        hours = {f[f.index("date=") :].rsplit("/", 1)[0] for f in files}
        hour_rows = iter_rows(self._archive, "transactions", filters, storage_options=self._options)
        for done, (_hour, rows) in enumerate(hour_rows, 1):
            for row in rows:
                yield enrich(tx_from_row(row))
            self._update(job_id, progress=min(0.99, done / max(1, len(hours))))

    def _run(self, job_id: str, rules: dict[str, tuple[str, str]], filters: Filters) -> None:
        self._update(job_id, status="running")
        try:
            matches, count = run_rules(rules, self._txs(job_id, filters))
        except Exception as exc:  # a job's failure is its result, never the server's
            log.warning("backtest %s failed: %s", job_id, type(exc).__name__)
            self._update(job_id, status="failed", error=str(exc)[:500])
            return
        result = {
            "txs": count,
            "matches": len(matches),
            "by_rule": dict(Counter(m.rule_id for m in matches)),
        }
        self._update(job_id, status="done", progress=1.0, result=result)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
