"""What went in against what came out of a fault test: lost and duplicated, by natural key.

Every fault test ends the same way: the keys it put in (tx hashes, alert keys, ...) against the
keys the sink holds. ``raw_repeats`` counts what the sink received more than once (at-least-once
delivery repeats the last epoch after a crash); ``duplicated`` counts what is still doubled
after the idempotent sink (or reader) has done its de-duplication, which must be nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tally:
    fault: str
    expected: int
    delivered: int  # distinct expected keys that came out
    lost: int
    duplicated: int  # after de-duplication by natural key
    raw_repeats: int  # before it: what at-least-once delivery sent twice
    unexpected: int  # keys nobody put in

    def line(self) -> str:
        return (
            f"FAULT {self.fault}: in={self.expected} out={self.delivered} lost={self.lost} "
            f"duplicated={self.duplicated} (raw repeats before dedup={self.raw_repeats}, "
            f"unexpected={self.unexpected})"
        )

    def report_and_check(self) -> None:
        """Print the figures (``pytest -s`` or the ``-rA`` summary shows them) and assert."""
        print(f"\n{self.line()}")
        assert self.lost == 0, self.line()
        assert self.duplicated == 0, self.line()
        assert self.unexpected == 0, self.line()


def tally(
    fault: str,
    expected: Iterable[str],
    raw: Iterable[str],
    deduplicated: Iterable[str] | None = None,
) -> Tally:
    """``raw``: every key the sink received, repeats included; ``deduplicated``: what the sink
    holds after its own de-duplication (by default: ``raw`` itself, for sinks that must not
    repeat at all)."""
    wanted = Counter(expected)
    if any(n > 1 for n in wanted.values()):
        raise ValueError("expected keys must be unique")
    received = Counter(raw)
    held = received if deduplicated is None else Counter(deduplicated)
    return Tally(
        fault=fault,
        expected=len(wanted),
        delivered=len(wanted.keys() & held.keys()),
        lost=len(wanted.keys() - held.keys()),
        duplicated=sum(n - 1 for n in held.values()),
        raw_repeats=sum(n - 1 for n in received.values()),
        unexpected=len(held.keys() - wanted.keys()),
    )
