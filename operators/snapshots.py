"""Deep copies of the flow's large states, in C.

Bytewax deep-copies a stateful step's state at every epoch (its ``snapshot``), with or without
recovery. ``copy.deepcopy`` walks every entry in Python: one 20,000-entry dedup shard took 0.7 s,
and a chain's tracker of a million pending txs takes tens of seconds, every epoch. A pickle round
trip makes the same deep copy (the state is pickled for recovery anyway) about 10x faster.
"""

from __future__ import annotations

import pickle
from typing import Self


class PickledCopy:
    """Mix-in: ``copy.deepcopy`` of the state is a pickle round trip."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        twin: Self = pickle.loads(pickle.dumps(self, pickle.HIGHEST_PROTOCOL))
        return twin
