"""The ``scorpius`` console script: one argparse subcommand per module in ``flows/commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module has ``register(subparsers)``, which adds its subcommand and sets ``func`` on it.
COMMAND_MODULES = [
    "flows.commands.run",
    "flows.commands.kafka",
    "flows.commands.config",
    "flows.commands.worker",
    "flows.commands.k8s",
    "flows.commands.clickhouse",
    "flows.commands.archive",
    "flows.commands.detect_block",
    "flows.commands.rules",
    "flows.commands.serve",
    "flows.commands.api_keys",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scorpius", description="Real-time mempool monitor and MEV detector (Bytewax dataflow)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
