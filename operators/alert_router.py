"""Which channels and recipients an alert goes to, by routing rules (pure: no I/O but reading YAML).

A routes file is YAML::

    routes:
      - name: drainers
        when:
          severity_at_least: high          # info < low < medium < high < critical
          chains: [ethereum, base]         # names or ids; absent: every chain
          tags_any: [drainer, phishing]    # at least one of these tags
          tags_all: []                     # every one of these tags
          origins: ["rule:drainer_*"]      # shell globs on Alert.origin
        send:
          - channel: slack_api
            to: ["C0123ABCD"]
          - channel: email
            to: [secops@example.com]
        stop: true                         # later routes are not looked at for a match

Every matching route contributes its targets (until one with ``stop``); a (channel, recipient) pair
is delivered once per alert however many routes name it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from operators.alerting import CHAIN_NAMES
from operators.records import SEVERITIES, Alert

# Webhook-style channels deliver to the one destination their URL names.
SINGLE_DESTINATION = ("slack", "discord", "webhook")
# These need recipients: Slack channel ids / names, email addresses.
ADDRESSED = ("slack_api", "email")
CHANNELS = SINGLE_DESTINATION + ADDRESSED
DEFAULT_RECIPIENT = "default"

_CHAIN_IDS = {name: chain_id for chain_id, name in CHAIN_NAMES.items()}


class RoutesError(ValueError):
    """The routes file (or the channels it names) is not usable."""


def severity_rank(severity: str) -> int:
    """Rank of a severity; one we do not know ranks highest: an unrankable alert is not hidden."""
    try:
        return SEVERITIES.index(severity.lower())
    except ValueError:
        return len(SEVERITIES) - 1


@dataclass(frozen=True)
class Target:
    """One delivery of an alert: a channel and a recipient on it, and the route that chose it."""

    channel: str
    recipient: str
    route: str


@dataclass(frozen=True)
class Route:
    name: str
    send: tuple[tuple[str, tuple[str, ...]], ...]
    min_severity: str = "info"
    chains: frozenset[int] = frozenset()
    tags_any: frozenset[str] = frozenset()
    tags_all: frozenset[str] = frozenset()
    origins: tuple[str, ...] = ()
    stop: bool = False

    def matches(self, alert: Alert) -> bool:
        if severity_rank(alert.severity) < severity_rank(self.min_severity):
            return False
        if self.chains and alert.chain_id not in self.chains:
            return False
        tags = set(alert.tags)
        if self.tags_any and not tags & self.tags_any:
            return False
        if not self.tags_all <= tags:
            return False
        return not self.origins or any(fnmatch.fnmatchcase(alert.origin, g) for g in self.origins)


@dataclass(frozen=True)
class Router:
    """Routes plus each addressed channel's default recipients, checked against enabled channels."""

    routes: tuple[Route, ...]
    defaults: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def targets(self, alert: Alert) -> list[Target]:
        chosen: dict[tuple[str, str], Target] = {}
        for r in self.routes:
            if not r.matches(alert):
                continue
            for channel, recipients in r.send:
                for recipient in recipients or self.defaults.get(channel, (DEFAULT_RECIPIENT,)):
                    chosen.setdefault((channel, recipient), Target(channel, recipient, r.name))
            if r.stop:
                break
        return list(chosen.values())

    def check(self, enabled: Iterable[str]) -> None:
        """Fails unless every channel a route sends to is enabled and has somebody to send to."""
        on = set(enabled)
        for r in self.routes:
            for channel, recipients in r.send:
                if channel not in on:
                    raise RoutesError(
                        f"route {r.name!r} sends to {channel!r}, which is not configured "
                        f"(enabled: {', '.join(sorted(on)) or 'none'})"
                    )
                if channel in ADDRESSED and not (recipients or self.defaults.get(channel)):
                    raise RoutesError(
                        f"route {r.name!r} sends to {channel!r} without 'to' and the channel "
                        "has no default recipient"
                    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return tuple(str(v) for v in value)
    raise RoutesError(f"{where}: expected a string or a list of strings, got {value!r}")


def _chain_id(value: str, where: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        return _CHAIN_IDS[value.lower()]
    except KeyError:
        known = ", ".join(sorted(_CHAIN_IDS))
        raise RoutesError(f"{where}: unknown chain {value!r} (a chain id or {known})") from None


def _route(doc: Any, index: int) -> Route:
    if not isinstance(doc, Mapping):
        raise RoutesError(f"routes[{index}]: expected a mapping")
    name = str(doc.get("name") or f"route{index}")
    where = f"route {name!r}"
    unknown = set(doc) - {"name", "when", "send", "stop"}
    if unknown:
        raise RoutesError(f"{where}: unknown keys {sorted(unknown)}")
    when = doc.get("when") or {}
    if not isinstance(when, Mapping):
        raise RoutesError(f"{where}: 'when' must be a mapping")
    unknown = set(when) - {"severity_at_least", "chains", "tags_any", "tags_all", "origins"}
    if unknown:
        raise RoutesError(f"{where}: unknown conditions {sorted(unknown)}")
    min_severity = str(when.get("severity_at_least", "info")).lower()
    if min_severity not in SEVERITIES:
        raise RoutesError(f"{where}: severity_at_least must be one of {', '.join(SEVERITIES)}")
    send_doc = doc.get("send")
    if not isinstance(send_doc, list) or not send_doc:
        raise RoutesError(f"{where}: 'send' must be a non-empty list of {{channel, to}}")
    send: list[tuple[str, tuple[str, ...]]] = []
    for item in send_doc:
        item = {"channel": item} if isinstance(item, str) else item
        if not isinstance(item, Mapping) or item.get("channel") not in CHANNELS:
            raise RoutesError(f"{where}: each 'send' entry needs a channel, one of {CHANNELS}")
        recipients = _strings(item.get("to"), f"{where}: to")
        if recipients and item["channel"] in SINGLE_DESTINATION:
            raise RoutesError(f"{where}: {item['channel']} has one destination, its URL; no 'to'")
        send.append((item["channel"], recipients))
    return Route(
        name=name,
        send=tuple(send),
        min_severity=min_severity,
        chains=frozenset(_chain_id(c, where) for c in _strings(when.get("chains"), where)),
        tags_any=frozenset(_strings(when.get("tags_any"), where)),
        tags_all=frozenset(_strings(when.get("tags_all"), where)),
        origins=_strings(when.get("origins"), where),
        stop=bool(doc.get("stop", False)),
    )


def parse_routes(doc: Any) -> tuple[Route, ...]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("routes"), list):
        raise RoutesError("a routes file needs a top-level 'routes:' list")
    return tuple(_route(r, i) for i, r in enumerate(doc["routes"]))


def load_routes(path: str | Path) -> tuple[Route, ...]:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RoutesError(f"routes file {path}: {exc}") from exc
    try:
        return parse_routes(doc)
    except RoutesError as exc:
        raise RoutesError(f"routes file {path}: {exc}") from None


def default_routes(enabled: Iterable[str], min_severity: str) -> tuple[Route, ...]:
    """Without a routes file: everything at or above ``min_severity`` to every enabled channel."""
    send = tuple((channel, ()) for channel in CHANNELS if channel in set(enabled))
    if not send:
        return ()
    return (Route(name="default", send=send, min_severity=min_severity.lower()),)
