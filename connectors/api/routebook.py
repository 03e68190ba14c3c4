"""Alert routes published through the API: validated before they are accepted (as a routes file
is, and against the channels this configuration has), kept in the database, and handed to the
running flow by the rule sink: the routes file the flow re-reads when embedded, the compacted
rules topic (followed into each worker's routes file) with Kafka. Same way as rule sets, same
latency: the flow looks at the file every ``SCORPIUS_ALERTS_ROUTES_RELOAD_S``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml
from sqlalchemy.orm import Session

from connectors.api.store import Setting, Store
from operators.alert_router import Router, RoutesError, parse_routes

SETTING = "alert_routes"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_. -]{0,99}$")


class RoutesRejected(ValueError):
    """422: the routes do not parse, repeat a name, or send to a channel that is not configured."""


class RouteSink(Protocol):
    def put_routes(self, source: str) -> None: ...


def routes_text(routes: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"routes": routes}, sort_keys=False, allow_unicode=True)


class RouteBook:
    """``channels``: the alert channels this configuration has; empty means unknown (an API
    without the channels' secrets), and a route to a missing channel is then dead-lettered by
    the flow, delivery by delivery, rather than refused here."""

    def __init__(
        self,
        store: Store,
        sink: RouteSink,
        channels: Sequence[str] = (),
        defaults: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._store = store
        self.sink = sink
        self.channels = tuple(channels)
        self._defaults = dict(defaults or {})

    def check(self, routes: list[dict[str, Any]]) -> None:
        try:
            parsed = parse_routes({"routes": routes})
            if self.channels:
                Router(parsed, self._defaults).check(self.channels)
        except RoutesError as exc:
            raise RoutesRejected(str(exc)[:500]) from None
        names = [r.name for r in parsed]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise RoutesRejected(f"route names must be unique: {', '.join(repeated)[:200]}")

    def _file_routes(self) -> list[dict[str, Any]]:
        """Routes of a file no API call wrote (a hand-written routes file, embedded)."""
        path: Path | None = getattr(self.sink, "routes_path", None)
        if path is None or not path.is_file():
            return []
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            return []
        found = doc.get("routes") if isinstance(doc, dict) else None
        return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []

    def _current(self, session: Session) -> tuple[Setting | None, list[dict[str, Any]]]:
        # Locked (PostgreSQL) until the change is published: two admins' edits do not interleave.
        row = session.get(Setting, SETTING, with_for_update=True)
        return row, list(row.value) if row is not None else self._file_routes()

    def document(self) -> list[dict[str, Any]]:
        with self._store.session() as session:
            row = session.get(Setting, SETTING)
            return list(row.value) if row is not None else self._file_routes()

    def get(self, name: str) -> dict[str, Any] | None:
        return next((r for i, r in enumerate(self.document()) if _name(r, i) == name), None)

    def _edit(self, change: Callable[[list[dict[str, Any]]], bool]) -> bool:
        """Applies ``change`` to the routes (False: nothing to change), checks them, stores them
        and publishes them, all or nothing: a publish that fails (Kafka down) rolls the database
        back."""
        with self._store.session() as session:
            row, routes = self._current(session)
            if not change(routes):
                return False
            self.check(routes)
            if row is None:
                session.add(Setting(name=SETTING, value=routes))
            else:
                row.value = routes
            session.flush()
            self.sink.put_routes(routes_text(routes))
        return True

    def replace(self, routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def change(current: list[dict[str, Any]]) -> bool:
            current[:] = routes
            return True

        self._edit(change)
        return routes

    def put(self, name: str, route: dict[str, Any]) -> dict[str, Any]:
        """Replaces the route named ``name`` where it stands, or appends it."""
        if not NAME.match(name):
            raise RoutesRejected("name: letters, digits, '_', '-', '.' and spaces, at most 100")
        if route.get("name") not in (None, name):
            raise RoutesRejected(f"the body names {str(route['name'])[:100]!r}, the path {name!r}")
        route = {"name": name, **{k: v for k, v in route.items() if k != "name"}}

        def change(current: list[dict[str, Any]]) -> bool:
            for i, r in enumerate(current):
                if _name(r, i) == name:
                    current[i] = route
                    return True
            current.append(route)
            return True

        self._edit(change)
        return route

    def delete(self, name: str) -> bool:
        def change(current: list[dict[str, Any]]) -> bool:
            kept = [r for i, r in enumerate(current) if _name(r, i) != name]
            found = len(kept) < len(current)
            current[:] = kept
            return found

        return self._edit(change)


def _name(route: dict[str, Any], index: int) -> str:
    """A route's name as the router knows it (unnamed ones are ``route<index>``)."""
    return str(route.get("name") or f"route{index}")
