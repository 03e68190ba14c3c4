"""CREAM Finance: a Compound V2 fork with its own markets (data/cream_markets.json)."""

from __future__ import annotations

from operators.mev.protocols.compound import fork_specs
from operators.mev.protocols.spec import load_json

CRETH = "0xd06527d5e56a3495252a528c4987003b712860ee"
SPECS = fork_specs("cream", CRETH, load_json("cream_markets.json"))
