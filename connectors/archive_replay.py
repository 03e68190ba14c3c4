"""The Time Machine's replay: archived transactions back into the flow, in event-time order.

``ArchiveReplaySource`` emits the exact ``Tx`` records the live run archived (already normalized,
so they bypass ``normalize`` and go straight to ``enrich``: the same input the live detectors and
rules saw, hence the same detections). It reads the archive one hour folder at a time through
``connectors.archive_query.iter_rows`` (file pruning by the filters), shows a progress bar on
stderr, and resumes after a crash at the hour and row it had reached.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from tqdm import tqdm

from connectors.archive_query import Filters, iter_rows, rows_to_read
from connectors.archive_tables import tx_from_row
from operators.metrics import SOURCE_MESSAGES
from operators.records import Tx

PART = "archive"


@dataclass(frozen=True)
class ReplayPosition:
    """The hour ("date=YYYY-MM-DD/hour=HH") being replayed and rows of it already emitted."""

    hour: str = ""
    done: int = 0


class _ReplayPartition(StatefulSourcePartition[Tx, ReplayPosition]):
    def __init__(self, source: ArchiveReplaySource, position: ReplayPosition | None) -> None:
        self._source = source
        self._position = position or ReplayPosition()
        self._hours = iter_rows(
            source.url, "transactions", source.filters, storage_options=source.storage_options
        )
        self._pending: Iterator[dict[str, Any]] = iter(())
        self._hour = ""
        self._done = 0
        total = (
            rows_to_read(source.url, "transactions", source.filters, source.storage_options)
            if source.progress
            else None
        )
        self._bar = tqdm(
            total=total,
            unit="tx",
            desc="replay",
            disable=not source.progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def _next_hour(self) -> bool:
        for hour, rows in self._hours:
            if hour < self._position.hour:
                continue  # replayed before the resume point
            skip = self._position.done if hour == self._position.hour else 0
            self._hour, self._done = hour, skip
            self._pending = iter(rows[skip:])
            return True
        return False

    def next_batch(self) -> list[Tx]:
        batch: list[Tx] = []
        while len(batch) < self._source.batch_size:
            row = next(self._pending, None)
            if row is None:
                if batch or not self._next_hour():
                    break
                continue
            batch.append(tx_from_row(row))
        if not batch:
            # The total was an upper bound (rows in the files read, before row filters).
            self._bar.total = self._bar.n
            self._bar.close()
            raise StopIteration
        self._done += len(batch)
        self._bar.update(len(batch))
        for tx in batch:
            SOURCE_MESSAGES.labels(source="archive", chain=str(tx.chain_id)).inc()
        return batch

    def snapshot(self) -> ReplayPosition:
        return ReplayPosition(self._hour, self._done)

    def close(self) -> None:
        self._bar.close()


@dataclass
class ArchiveReplaySource(FixedPartitionedSource[Tx, ReplayPosition]):
    """Archived ``Tx`` records matching ``filters``, oldest first (one partition: global order)."""

    url: str
    filters: Filters = field(default_factory=Filters)
    _: KW_ONLY
    storage_options: dict[str, Any] | None = None
    batch_size: int = 1_000
    progress: bool = True

    def list_parts(self) -> list[str]:
        return [PART]

    def build_part(
        self, step_id: str, for_part: str, resume_state: ReplayPosition | None
    ) -> _ReplayPartition:
        return _ReplayPartition(self, resume_state)
