"""The ``scorpius`` console script: one argparse subcommand per module in ``flows/commands``.

Exit codes: 0 done (a query that matches nothing is done too, and says so on stderr), 1 the
command ran and found a problem (a broken rule set, a source that gave nothing), 2 the user's
input is wrong (usage, settings, a missing file). User mistakes print one or two lines on stderr;
``--debug`` (anywhere on the command line) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from flows.commands import CommandError
from flows.config import ConfigError
from operators.rules.errors import RuleLoadError

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

# Mistakes in what the user gave (settings, paths, file contents), not bugs: one line, no traceback.
USER_ERRORS = (
    CommandError,
    ConfigError,
    RuleLoadError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
)
USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scorpius",
        description="Real-time mempool monitor and MEV detector (Bytewax dataflow). "
        "Start with `scorpius run`; docs/ explains every command.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (anywhere on the line)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        mistake = user_error(exc)
        if debug or mistake is None:
            raise
        print(f"scorpius {args.command}: {_message(mistake)}", file=sys.stderr)
        if isinstance(mistake, ConfigError):
            print("  every setting: `scorpius config`, docs/settings.md", file=sys.stderr)
        return USAGE
    return code


def user_error(exc: BaseException) -> BaseException | None:
    """The user's mistake behind ``exc``: Bytewax wraps what a source or sink raised while the
    flow starts in its own error, with the original as the cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, USER_ERRORS):
            return seen
        seen = seen.__cause__
    return None


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
