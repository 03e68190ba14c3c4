"""A step's good items and its dead letters, and the typed splits that produce them.

Errors are data: every step that can fail returns ``Checked[T]``, its ``oks`` and its ``errs``
(the way ``bytewax.connectors.kafka.operators`` does). ``op.branch`` narrows only the stream its
``TypeGuard`` accepts; ``split`` also types the rest, so a flow splits a union with no ``cast``.
The types come from the variable the result goes to::

    kinds: BranchOut[Tx, Block] = split("is_tx", norm.oks, is_tx)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeGuard, TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import BranchOut

from operators.records import Block, DeadLetter, Detection, EnrichedTx, RawItem, Tx

A = TypeVar("A")
B = TypeVar("B")
X = TypeVar("X")


@dataclass(frozen=True)
class Checked(Generic[X]):
    """What a step produced, and what it could not handle. Unpacks like a pair:
    ``raws, dead = kafka_raw_input("kafka", flow, cfg)``."""

    oks: Stream[X]
    errs: Stream[DeadLetter]

    def __iter__(self) -> Iterator[Stream[Any]]:
        return iter((self.oks, self.errs))


def split(
    step_id: str, up: Stream[A | B], is_a: Callable[[A | B], TypeGuard[A]]
) -> BranchOut[A, B]:
    """``op.branch`` typed on both sides: ``trues`` are the ``A`` items, ``falses`` the ``B``.

    Give the result's type where it is assigned (mypy cannot take ``A`` out of a wider union by
    itself); mypy then checks that ``up`` carries exactly ``A | B``."""
    branch = op.branch(step_id, up, is_a)
    # The guard accepted every A, so what it turned away is the rest of the union: B.
    return BranchOut(branch.trues, cast(Stream[B], branch.falses))


def guard(kind: type[A]) -> Callable[[object], TypeGuard[A]]:
    """``isinstance(item, kind)`` as a ``TypeGuard``, for ``split``."""

    def check(item: object) -> TypeGuard[A]:
        return isinstance(item, kind)

    return check


is_dead_letter = guard(DeadLetter)
is_raw_item = guard(RawItem)
is_tx = guard(Tx)
is_block = guard(Block)
is_enriched = guard(EnrichedTx)
is_detection = guard(Detection)


@operator
def split_errors(step_id: str, up: Stream[X | DeadLetter]) -> Checked[X]:
    """Dead letters apart from the good items."""
    branch: BranchOut[DeadLetter, X] = split("is_dead", up, is_dead_letter)
    return Checked(branch.falses, branch.trues)
