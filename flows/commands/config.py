"""``scorpius config``: every setting with its environment name, default and current value."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from flows.commands import CommandError, add_command
from flows.config import load_config, settings_table

# docs/settings.md's table sits between these markers; `scorpius config --update docs/settings.md`
# rewrites it.
SETTINGS_PAGE = "docs/settings.md"
BEGIN = f"<!-- settings table: scorpius config --update {SETTINGS_PAGE} -->"
END = "<!-- end of settings table -->"


HELP = f"""list every setting (environment name, default) and check the current ones

Check the current settings (environment variables SCORPIUS_* and the YAML file named by
SCORPIUS_CONFIG), then list every setting with its default and, when set, its value (secrets
show as '(set)'). A bad value exits 2 naming the variable. Meanings: {SETTINGS_PAGE}.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "config", HELP)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--update",
        metavar="FILE",
        help=f"rewrite the settings table of FILE ({SETTINGS_PAGE}) or the limits table "
        "(operators/LIMITS.md) in place",
    )
    parser.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    load_config(os.environ)  # fails with a clear ConfigError on a bad value
    rows = settings_table()
    if args.update:
        path = Path(args.update)
        path.write_text(with_tables(path.read_text()))
    elif args.markdown:
        print(markdown_table())
    else:
        width = max(len(row.name) for row in rows)
        for name, default, is_secret, _ in rows:
            current = os.environ.get(name)
            if current is None:
                suffix = ""
            else:
                suffix = "   (set)" if is_secret else f"   (set: {current!r})"
            print(f"{name:<{width}}  {default}{suffix}")
    return 0


def markdown_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for row in settings_table():
        doc = ("(secret) " if row.secret else "") + row.doc.replace("|", "\\|")
        lines.append(f"| `{row.name}` | `{row.default}` | {doc} |")
    return "\n".join(lines)


def with_table(text: str) -> str:
    """``text`` with the current settings table between the markers."""
    block = f"{BEGIN}\n{markdown_table()}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise CommandError(f"no settings table markers ({BEGIN} ... {END}) found")
    return pattern.sub(lambda _: block, text)


def with_tables(text: str) -> str:
    """``text`` with every generated table it holds (settings, limits) brought up to date."""
    from flows import limits_table

    if limits_table.BEGIN in text:
        return limits_table.with_table(text)
    return with_table(text)
