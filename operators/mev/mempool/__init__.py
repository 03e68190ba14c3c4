"""Mempool-time MEV detection over pending ``EnrichedTx``: bytewax-free state machines with
``on_tx(etx, now_ms=None) -> list[Detection]`` and a ``window_key(etx)`` each, for the flow to
hold in event-time windows (event time = ``tx.first_seen_ms``)."""

from operators.mev.mempool.frontrun import FrontrunCopyDetector
from operators.mev.mempool.sandwich_attempt import SandwichAttemptDetector
from operators.mev.mempool.sandwichable import SandwichableVictimDetector

__all__ = ["FrontrunCopyDetector", "SandwichAttemptDetector", "SandwichableVictimDetector"]
