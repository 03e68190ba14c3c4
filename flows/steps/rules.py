"""The rule step as a bytewax composite operator: one engine per worker, one wasm call per batch.

``flat_map_batch`` hands the mapper whatever batch the upstream activation produced, on the worker
that holds it (no exchange), so each worker evaluates its own batches. Workers of one process are
threads and a wasmtime store must not be used by two threads at once, so each worker thread gets
its own engine from ``engine_factory`` (built on first use, kept by thread id).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flows.steps.checked import Checked, split_errors
from operators.metrics import DEAD_LETTERS, STAGE_ITEMS, reason_class
from operators.records import DeadLetter, EnrichedTx, RuleMatch
from operators.rules.engine import RuleEngine


class _PerWorker:
    """One engine per worker thread, chopping large upstream batches to ``batch_size``."""

    def __init__(self, engine_factory: Callable[[], RuleEngine], batch_size: int) -> None:
        self._factory = engine_factory
        self._batch_size = batch_size
        # By OS thread id, not threading.local: bytewax workers are Rust threads that enter
        # Python with a fresh thread state for each call, which would drop thread-local data.
        self._engines: dict[int, RuleEngine] = {}

    def _engine(self) -> RuleEngine:
        thread = threading.get_ident()
        engine = self._engines.get(thread)
        if engine is None:
            engine = self._engines[thread] = self._factory()
        return engine

    def __call__(self, items: list[EnrichedTx]) -> list[RuleMatch | DeadLetter]:
        engine = self._engine()
        out: list[RuleMatch | DeadLetter] = []
        for start in range(0, len(items), self._batch_size):
            matches, errs = engine.evaluate(items[start : start + self._batch_size])
            out.extend(matches)
            out.extend(errs)
            for err in errs:
                DEAD_LETTERS.labels(stage="rules", reason=reason_class(err.reason)).inc()
            STAGE_ITEMS.labels(stage="rules", outcome="ok").inc(len(matches))
            STAGE_ITEMS.labels(stage="rules", outcome="dead_letter").inc(len(errs))
        return out


@operator
def rules_op(
    step_id: str,
    up: Stream[EnrichedTx],
    engine_factory: Callable[[], RuleEngine],
    batch_size: int = 512,
) -> Checked[RuleMatch]:
    """Every rule match of ``up`` and the dead letters of rule faults and load errors."""
    evaluated = op.flat_map_batch("evaluate", up, _PerWorker(engine_factory, batch_size))
    return split_errors("split", evaluated)
