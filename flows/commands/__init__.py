"""The ``scorpius`` subcommands, one module each (``register(subparsers)`` adds it)."""

from __future__ import annotations


class CommandError(Exception):
    """The user's input is missing, malformed or empty where data was expected.

    ``scorpius`` prints the message as one line on stderr (no traceback unless ``--debug``) and
    exits 2; the message names the problem and how to fix it.
    """
