"""Running a real source through a one-worker bytewax dataflow in a test (TestingSink, run_main)."""

from __future__ import annotations

from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.testing import TestingSink, run_main


def collect(source: Source[Any], name: str = "collect") -> list[Any]:
    """Every item ``source`` emits, in order, once the dataflow has ended."""
    out: list[Any] = []
    flow = Dataflow(name)
    op.output("out", op.input("in", flow, source), TestingSink(out))
    run_main(flow)
    return out
