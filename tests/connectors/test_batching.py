"""The batching sink partition every batch sink shares (connectors/batching.py): sealing by size
and age, order, back-pressure that holds the worker, retries, the epoch wait, failures.

The store here is a list: the base has no I/O of its own (the ClickHouse and Delta tests run it
against the real servers)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from prometheus_client import REGISTRY

from connectors.batching import BatchingPartition, BatchLimits, ListBuffer
from connectors.retry import Backoff

FAST = Backoff(initial_s=0.001, max_s=0.01)


class Flaky(Exception):
    pass


class ListPartition(BatchingPartition[int, list[int], None]):
    def __init__(self, limits: BatchLimits, *, background: bool = True, **kw: Any) -> None:
        self.stored: list[list[int]] = []
        self.failures: list[Exception] = []  # raised by the next writes, in order
        self.gate = threading.Event()
        self.gate.set()
        super().__init__(
            name="list",
            metric="test:list",
            limits=limits,
            buffer=ListBuffer[int](),
            backoff=FAST,
            retryable=lambda exc: isinstance(exc, Flaky),
            background=background,
            **kw,
        )

    def rows(self, values: list[Any]) -> list[int]:
        return [int(v) for v in values]

    def write(self, batch: list[int]) -> None:
        self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.stored.append(list(batch))

    def snapshot(self) -> None:
        self.wait_written()


def errors() -> float:
    return REGISTRY.get_sample_value("scorpius_sink_errors_total", {"sink": "test:list"}) or 0.0


@pytest.mark.parametrize("background", [True, False])
def test_batches_are_sealed_by_size_and_written_in_order(background: bool) -> None:
    part = ListPartition(BatchLimits(rows=3, seconds=60), background=background)
    for i in range(7):
        part.write_batch([i])
    part.close()
    assert part.stored == [[0, 1, 2], [3, 4, 5], [6]]


def test_age_seals_a_lone_row_without_more_input() -> None:
    part = ListPartition(BatchLimits(rows=100, seconds=0.05))
    part.write_batch([1])
    deadline = threading.Event()
    for _ in range(200):
        if part.stored:
            break
        deadline.wait(0.01)
    assert part.stored == [[1]]
    part.close()


def test_a_full_buffer_holds_the_worker_and_loses_nothing() -> None:
    part = ListPartition(BatchLimits(rows=2, seconds=60, max_buffered_rows=4))
    part.gate.clear()  # the store hangs
    done = threading.Event()

    def worker() -> None:
        for i in range(0, 10, 2):
            part.write_batch([i, i + 1])
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not done.wait(0.5)  # held back, not dropping
    assert part.pending_rows() <= 4
    part.gate.set()
    thread.join(10)
    assert done.is_set()
    part.close()
    assert [row for batch in part.stored for row in batch] == list(range(10))


def test_retryable_errors_are_retried_and_counted() -> None:
    part = ListPartition(BatchLimits(rows=2, seconds=60))
    part.failures = [Flaky("down"), Flaky("still down")]
    before = errors()
    part.write_batch([1, 2])
    part.wait_written()
    assert part.stored == [[1, 2]]
    assert errors() - before == 2
    part.close()


def test_the_epoch_wait_returns_once_everything_is_stored() -> None:
    part = ListPartition(BatchLimits(rows=100, seconds=60))
    part.write_batch([1, 2, 3])
    assert part.pending_rows() == 3
    part.snapshot()
    assert part.stored == [[1, 2, 3]] and part.pending_rows() == 0
    part.close()


def test_an_error_that_cannot_pass_stops_the_flow_loudly() -> None:
    part = ListPartition(BatchLimits(rows=1, seconds=60))
    part.failures = [ValueError("schema mismatch")]
    part.write_batch([1])
    with pytest.raises(RuntimeError, match="list sink writer failed"):
        part.close()


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        BatchLimits(rows=0, seconds=1)
    with pytest.raises(ValueError, match="at least one batch"):
        BatchLimits(rows=10, seconds=1, max_buffered_rows=5)
