"""``scorpius detect-block FILE``: MEV in one block file, one JSON line per finding.

The file is a block in the mev-fixtures format (Parity traces with snake_case keys and receipt
summaries, ``.json`` or ``.json.gz``). Detection is ``operators.mev.detect_block``, the same code
the flow's block window runs.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from flows.commands import add_command
from flows.config import ConfigError, load_config
from operators import clock
from operators.mev.block import analyze_block, detections_of
from operators.mev.fixtures import load_block
from operators.normalize import Malformed
from operators.records import encode_json

HELP = """detect sandwiches, arbitrages and liquidations in a block file

Print one JSON line per finding (kind, tx hashes, positions, trace addresses, protocol, pool,
tokens, integer amounts, profit, error).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "detect-block", HELP)
    parser.add_argument("file", help="block in the mev-fixtures format (.json or .json.gz)")
    parser.add_argument(
        "--swaps", action="store_true", help="also print every classified swap (kind 'swap')"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from flows.wiring.operators import (
        amm_factories,  # the flow's own reading of the factories setting
    )

    try:
        block = load_block(args.file)
    except (OSError, orjson.JSONDecodeError, Malformed, KeyError, TypeError, ValueError) as exc:
        print(f"scorpius detect-block: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        factories = amm_factories(load_config().detect)
    except ConfigError as exc:
        print(f"scorpius detect-block: {exc}", file=sys.stderr)
        return 2
    now_ms = clock.now_ms()
    analysis = analyze_block(block, factories)
    findings = detections_of(block, analysis, now_ms, with_swaps=args.swaps)
    out = sys.stdout.buffer
    for finding in findings:
        out.write(encode_json(finding) + b"\n")
    out.flush()
    return 0
