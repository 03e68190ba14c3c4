"""Stream filters: parsed once at subscribe time, matched against facets computed once per message.

A message's ``Facets`` (chain, kinds, severity, addresses, tokens, ...) are pulled out of the
record when it is published, so each client's filter is a handful of set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")

# Which filters each stream takes; anything else is refused (400 / close 4400).
STREAM_FILTERS: dict[str, frozenset[str]] = {
    "alerts": frozenset({"chain", "kind", "severity", "from", "to", "token", "rule_id", "tags"}),
    "detections": frozenset({"chain", "kind", "severity", "from", "to", "token"}),
    "transactions": frozenset({"chain", "kind", "from", "to", "token", "selector", "min_value"}),
    "status": frozenset(),
}
# Query parameters of a stream that are not filters.
STREAM_PARAMS = frozenset({"since", "last_key", "api_key", "token", "batch", "subscription"})

_FROM_KEYS = ("sender", "searcher", "attacker", "from")
_TO_KEYS = ("to", "victim", "pool", "contract", "target")


class FilterError(ValueError):
    """An unknown filter field or a value of the wrong type (``code`` names which)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Facets:
    chain: int | None = None
    kinds: frozenset[str] = frozenset()
    severity: int = 0
    senders: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    tokens: frozenset[str] = frozenset()
    selector: str | None = None
    value: int = 0
    rule_id: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StreamFilter:
    chains: frozenset[int] = frozenset()
    kinds: frozenset[str] = frozenset()
    min_severity: int = 0
    senders: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    tokens: frozenset[str] = frozenset()
    selectors: frozenset[str] = frozenset()
    min_value: int = 0
    rule_ids: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    shown: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def everything(self) -> bool:
        """No constraint: every message matches."""
        return self == _NO_FILTER

    def matches(self, f: Facets) -> bool:
        return (
            (not self.chains or f.chain in self.chains)
            and (not self.kinds or not self.kinds.isdisjoint(f.kinds))
            and f.severity >= self.min_severity
            and (not self.senders or not self.senders.isdisjoint(f.senders))
            and (not self.targets or not self.targets.isdisjoint(f.targets))
            and (not self.tokens or not self.tokens.isdisjoint(f.tokens))
            and (not self.selectors or f.selector in self.selectors)
            and f.value >= self.min_value
            and (not self.rule_ids or f.rule_id in self.rule_ids)
            and (not self.tags or not self.tags.isdisjoint(f.tags))
        )


_NO_FILTER = StreamFilter()


def _strings(name: str, values: Any) -> list[str]:
    if isinstance(values, str | int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, list | tuple) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in values
    ):
        raise FilterError("invalid_filter", f"filter {name!r}: expected a string or a list of them")
    out = [str(v).strip() for v in values]
    if any(len(v) > 200 for v in out) or len(out) > 100:
        raise FilterError("invalid_filter", f"filter {name!r}: too long")
    return [v for v in out if v]


def _int(name: str, text: str) -> int:
    try:
        value = int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise FilterError(
            "invalid_filter", f"filter {name!r}: {text[:40]!r} is not an integer"
        ) from None
    if value < 0:
        raise FilterError("invalid_filter", f"filter {name!r} must not be negative")
    return value


def _addresses(name: str, values: list[str]) -> frozenset[str]:
    for v in values:
        if not (v.startswith("0x") and len(v) == 42):
            raise FilterError("invalid_filter", f"filter {name!r}: {v[:50]!r} is not an address")
    return frozenset(v.lower() for v in values)


def parse_filters(stream: str, params: Mapping[str, Any]) -> StreamFilter:
    """``params``: filter name → a string or a list of strings (query parameters or JSON)."""
    allowed = STREAM_FILTERS[stream]
    raw: dict[str, list[str]] = {}
    for name, values in params.items():
        if name in STREAM_PARAMS:
            continue
        if name not in allowed:
            shown = name[:50]
            raise FilterError(
                "unknown_filter",
                f"unknown filter field {shown!r} for /{stream}; "
                f"allowed: {', '.join(sorted(allowed)) or 'none'}",
            )
        raw[name] = _strings(name, values)
    severity = 0
    if raw.get("severity"):
        level = raw["severity"][-1].lower()
        if level not in SEVERITIES:
            raise FilterError(
                "invalid_filter", f"filter 'severity': one of {', '.join(SEVERITIES)}"
            )
        severity = SEVERITIES.index(level)
    selectors = [s.lower() for s in raw.get("selector", [])]
    for s in selectors:
        if not (s.startswith("0x") and len(s) == 10):
            raise FilterError("invalid_filter", f"filter 'selector': {s[:20]!r} is not 0x + 8 hex")
    min_values = [_int("min_value", v) for v in raw.get("min_value", [])]
    return StreamFilter(
        chains=frozenset(_int("chain", v) for v in raw.get("chain", [])),
        kinds=frozenset(raw.get("kind", [])),
        min_severity=severity,
        senders=_addresses("from", raw.get("from", [])),
        targets=_addresses("to", raw.get("to", [])),
        tokens=_addresses("token", raw.get("token", [])),
        selectors=frozenset(selectors),
        min_value=max(min_values, default=0),
        rule_ids=frozenset(raw.get("rule_id", [])),
        tags=frozenset(raw.get("tags", [])),
        shown={k: v for k, v in raw.items() if v},
    )


def _lower_set(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(v.lower() for v in values if isinstance(v, str) and v)


def _data_addresses(data: Mapping[str, Any], keys: Iterable[str]) -> frozenset[str]:
    return _lower_set(data.get(k) for k in keys)


def _data_tokens(data: Mapping[str, Any]) -> frozenset[str]:
    found: list[Any] = []
    for k, v in data.items():
        if "token" in k:
            found.extend(v if isinstance(v, list) else [v])
    return _lower_set(found)


def _severity(text: Any) -> int:
    return SEVERITIES.index(text) if text in SEVERITIES else 0


def facets(stream: str, record: Mapping[str, Any]) -> Facets:
    """What filters look at in one record (a decoded JSON object of the stream's type)."""
    if stream == "transactions":
        tx = record.get("tx") or {}
        tokens = [record.get("token")]
        for swap in record.get("swaps") or ():
            tokens.extend(swap.get("path") or ())
        value = tx.get("value")
        return Facets(
            chain=tx.get("chain_id"),
            kinds=frozenset({str(record.get("kind"))}),
            senders=_lower_set([tx.get("sender")]),
            targets=_lower_set([tx.get("to")]),
            tokens=_lower_set(tokens),
            selector=tx.get("selector"),
            value=value if isinstance(value, int) else 0,
        )
    data = record.get("data") or {}
    if not isinstance(data, Mapping):
        data = {}
    if stream == "detections":
        return Facets(
            chain=record.get("chain_id"),
            kinds=frozenset({str(record.get("kind"))}),
            severity=_severity(record.get("severity")),
            senders=_data_addresses(data, _FROM_KEYS),
            targets=_data_addresses(data, _TO_KEYS),
            tokens=_data_tokens(data),
        )
    if stream == "alerts":
        origin = str(record.get("origin") or "")
        kind_of, _, name = origin.partition(":")
        return Facets(
            chain=record.get("chain_id"),
            # An alert's kind: its detector's kind, or "rule" for rule matches.
            kinds=frozenset({name if kind_of == "detector" else kind_of, origin}),
            severity=_severity(record.get("severity")),
            senders=_data_addresses(data, _FROM_KEYS),
            targets=_data_addresses(data, _TO_KEYS),
            tokens=_data_tokens(data),
            rule_id=name if kind_of == "rule" else None,
            tags=frozenset(t for t in record.get("tags") or () if isinstance(t, str)),
        )
    return Facets()
