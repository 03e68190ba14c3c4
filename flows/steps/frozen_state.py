"""Stateful steps whose snapshot is the state's pickle, taken the moment bytewax asks for it.

Bytewax takes a snapshot of every key touched in an epoch when the epoch closes, and pickles it
later, in its ``ser_snap`` operator. In between, the same activation may already run the next
epoch's items on the same state, so a snapshot must not change after it is taken:

- ``op.stateful_flat_map`` deep-copies the state for that. For the inclusion and private-flow
  trackers (one key per chain, up to 250,000 pending txs each) the copy was a second object
  graph of the whole state every 30 s: in the soak, RSS jumped by about 200 MB at each snapshot
  and the copy took CPU the flow needed (docs/robustness.md).
- A window that returns its live detector saves the copy, but what bytewax pickles may then
  hold effects of the next epoch: after a crash those items are replayed into a state that
  already has them, and what they emitted before the crash (a replacement, an alert passing
  dedup) is not emitted again.

Pickling at once is both frozen and compact: the bytes are the snapshot (bytewax's own pickle of
a bytes object is a copy), and a resume unpickles them. A resume state that is not bytes came
from a snapshot written before this module and is used as it is.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import operator
from bytewax.operators import KeyedStream, StatefulLogic

V = TypeVar("V")
W = TypeVar("W")
S = TypeVar("S")


def freeze(state: object) -> bytes:
    """The snapshot of ``state``: its pickle, so later changes to ``state`` do not reach it."""
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def thaw(resume: object) -> Any:
    """The state a snapshot holds (one from before snapshots were frozen is the state itself)."""
    return pickle.loads(resume) if isinstance(resume, bytes) else resume


class _FlatMapLogic(StatefulLogic[V, W, bytes], Generic[V, W, S]):
    def __init__(
        self, mapper: Callable[[S | None, V], tuple[S | None, Iterable[W]]], state: S | None
    ) -> None:
        self._mapper = mapper
        self._state = state

    def on_item(self, value: V) -> tuple[Iterable[W], bool]:
        state, out = self._mapper(self._state, value)
        if state is None:
            return out, StatefulLogic.DISCARD
        self._state = state
        return out, StatefulLogic.RETAIN

    def snapshot(self) -> bytes:
        return freeze(self._state)


@operator
def stateful_flat_map(
    step_id: str,
    up: KeyedStream[V],
    mapper: Callable[[S | None, V], tuple[S | None, Iterable[W]]],
) -> KeyedStream[W]:
    """``op.stateful_flat_map`` with the same mapper contract and step ids (``<step_id>.stateful``,
    so existing recovery stores resume), and frozen snapshots instead of deep copies."""

    def build(resume: bytes | None) -> _FlatMapLogic[V, W, S]:
        return _FlatMapLogic(mapper, cast("S | None", thaw(resume)))

    return op.stateful("stateful", up, build)
