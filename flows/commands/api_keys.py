"""``scorpius api-keys``: create, list and revoke the API's keys (docs/api.md).

scorpius api-keys create --role admin [--name NAME]    prints the new key once
scorpius api-keys list
scorpius api-keys revoke KEY_ID
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from flows.config import Config, load_config

if TYPE_CHECKING:
    from connectors.api.auth import KeyRing


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("api-keys", help="create, list and revoke API keys")
    commands = parser.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--role", choices=("viewer", "analyst", "admin"), default="viewer")
    create.add_argument("--name", default="cli", help="a label for the key")
    create.add_argument("--rate", type=float, help="requests per second (SCORPIUS_API_RATE_PER_S)")
    create.add_argument("--burst", type=int, help="burst (SCORPIUS_API_RATE_BURST)")
    create.set_defaults(func=cmd_create)
    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(func=cmd_list)
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_revoke)


def _keyring() -> tuple[Config, KeyRing]:
    from connectors.api.auth import KeyRing
    from connectors.api.store import Store
    from flows.wiring.api import database_url

    cfg = load_config(os.environ)
    store = Store(database_url(cfg))
    store.migrate()
    return cfg, KeyRing(store)


def cmd_create(args: argparse.Namespace) -> int:
    cfg, keys = _keyring()
    new = keys.create(
        args.name, args.role, args.rate or cfg.api.rate_per_s, args.burst or cfg.api.rate_burst
    )
    # The key goes to stdout only (never a log); it cannot be shown again.
    print(new.key)
    print(
        f"key id {new.row.key_id}, role {new.row.role}: store the key now, it is not shown again",
        file=sys.stderr,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    _, keys = _keyring()
    for row in keys.all():
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        print(f"{row.key_id}  {row.role:8} {state:24} {row.name}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    _, keys = _keyring()
    if not keys.revoke(args.key_id):
        print(f"no key {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}", file=sys.stderr)
    return 0
