"""The ``scorpius`` subcommands, one module each (``register(subparsers)`` adds it)."""

from __future__ import annotations

import argparse


class CommandError(Exception):
    """The user's input is missing, malformed or empty where data was expected.

    ``scorpius`` prints the message as one line on stderr (no traceback unless ``--debug``) and
    exits 2; the message names the problem and how to fix it.
    """


def add_command(
    subparsers: argparse._SubParsersAction, name: str, doc: str
) -> argparse.ArgumentParser:
    """The subcommand ``name`` described by ``doc``: its first paragraph is the one-line help of
    ``scorpius --help``, the rest (re-flowed) the description of ``scorpius <name> --help``."""
    summary, _, details = doc.strip().partition("\n\n")
    return subparsers.add_parser(
        name, help=" ".join(summary.split()), description=" ".join(details.split()) or None
    )
