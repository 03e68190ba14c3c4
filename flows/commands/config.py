"""``scorpius config``: every setting with its environment name, default and current value."""

from __future__ import annotations

import argparse
import os

from flows.config import load_config, settings_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config", help="list every setting (environment name, default) and check the current ones"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    load_config(os.environ)  # fails with a clear ConfigError on a bad value
    rows = settings_table()
    if args.markdown:
        print("| variable | default |\n| --- | --- |")
        for name, default, _ in rows:
            print(f"| `{name}` | `{default}` |")
    else:
        width = max(len(name) for name, _, _ in rows)
        for name, default, is_secret in rows:
            current = os.environ.get(name)
            if current is None:
                suffix = ""
            else:
                suffix = "   (set)" if is_secret else f"   (set: {current!r})"
            print(f"{name:<{width}}  {default}{suffix}")
    return 0
