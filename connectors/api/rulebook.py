"""Rule sets published through the API: validated and compiled before they are accepted, kept in
the database, and handed to the workers by a ``RuleSink`` (the hot-reloaded rules folder when
embedded, the compacted rules topic with Kafka). Also tests a rule set on sample transactions
and backtests it over the archive.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from connectors.api.store import RuleSet, Store, row_view
from connectors.rule_sets import SUFFIX, FolderSink
from operators.records import EnrichedTx, RuleMatch, to_builtins
from operators.rules import RuleEngine
from operators.rules.compiler import compile_rules, parse_rules
from operators.rules.errors import RuleLoadError
from operators.rules.host import compile_module, new_engine

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_SOURCE = 256 << 10


class RuleRejected(ValueError):
    """422: the rule set does not compile (the compiler's message) or is malformed."""


class RuleSink(Protocol):
    """Also the alert routes' way to the flow (``RouteSink``)."""

    def put(self, name: str, fmt: str, source: str) -> None: ...
    def remove(self, name: str) -> None: ...
    def put_routes(self, source: str) -> None: ...


def rule_view(row: RuleSet, with_source: bool = False) -> dict[str, Any]:
    columns = ("name", "format", "enabled", "sha256", "updated_at", "updated_by")
    return row_view(row, *columns, *(("source",) if with_source else ()))


def validate(fmt: str, source: str, others: Iterable[Path] = ()) -> None:
    """Compile ``source`` (with the other YAML files, so duplicate ids show) or raise
    ``RuleRejected`` with the compiler's message."""
    if fmt not in SUFFIX:
        raise RuleRejected(f"format must be one of {', '.join(SUFFIX)}")
    if len(source.encode()) > MAX_SOURCE:
        raise RuleRejected(f"rule source over {MAX_SOURCE} bytes")
    with tempfile.TemporaryDirectory(prefix="scorpius-rule-") as tmp:
        path = Path(tmp) / f"uploaded{SUFFIX[fmt]}"
        path.write_text(source)
        try:
            if fmt == "wat":
                compile_module(new_engine(), "uploaded.wat", source)
                return
            rules = parse_rules([path])
            if not rules:
                raise RuleRejected("no rules in the document")
            seen = {r.id for r in rules}
            for other in others:
                for rule in parse_rules([other]):
                    if rule.id in seen:
                        raise RuleRejected(f"rule {rule.id!r}: duplicate id (also in {other.name})")
            compile_module(new_engine(), "uploaded.yaml", compile_rules(rules).wat)
        except RuleLoadError as exc:
            # The message names the temporary path; say "uploaded" instead.
            raise RuleRejected(str(exc).replace(str(path), "uploaded")) from None


def _engine_over(rules: dict[str, tuple[str, str]], tmp: Path) -> RuleEngine:
    for name, (fmt, source) in rules.items():
        (tmp / f"{name}{SUFFIX[fmt]}").write_text(source)
    return RuleEngine.from_dir(tmp)


def run_rules(
    rules: dict[str, tuple[str, str]],
    txs: Iterable[EnrichedTx],
    batch_size: int = 512,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[RuleMatch], int]:
    """Every match of ``rules`` (name → (format, source)) on ``txs``, and how many txs."""
    matches: list[RuleMatch] = []
    count = 0
    with tempfile.TemporaryDirectory(prefix="scorpius-ruletest-") as tmp:
        engine = _engine_over(rules, Path(tmp))
        batch: list[EnrichedTx] = []
        for etx in txs:
            batch.append(etx)
            if len(batch) >= batch_size:
                found, _ = engine.evaluate(batch)
                matches += found
                count += len(batch)
                batch = []
                if progress:
                    progress(count)
        if batch:
            found, _ = engine.evaluate(batch)
            matches += found
            count += len(batch)
    return matches, count


class RuleBook:
    def __init__(self, store: Store, sink: RuleSink) -> None:
        self._store = store
        self.sink = sink

    def views(self) -> list[dict[str, Any]]:
        with self._store.session() as session:
            rows = list(session.scalars(select(RuleSet).order_by(RuleSet.name)))
        views = [rule_view(r) for r in rows]
        if isinstance(self.sink, FolderSink):
            # Files put in the folder by hand are live too; list them as unmanaged.
            known = {r.name for r in rows}
            for name, path in self.sink.files().items():
                if name not in known:
                    text = path.read_bytes()
                    views.append(
                        {
                            "name": name,
                            "format": "wat" if path.suffix == ".wat" else "yaml",
                            "enabled": True,
                            "sha256": hashlib.sha256(text).hexdigest(),
                            "updated_at": datetime.fromtimestamp(
                                path.stat().st_mtime, UTC
                            ).isoformat(),
                            "updated_by": "file",
                        }
                    )
        return sorted(views, key=lambda v: v["name"])

    def get(self, name: str) -> dict[str, Any] | None:
        with self._store.session() as session:
            row = session.get(RuleSet, name)
        if row is not None:
            return rule_view(row, with_source=True)
        if isinstance(self.sink, FolderSink):
            path = self.sink.files().get(name)
            if path is not None:
                view = next(v for v in self.views() if v["name"] == name)
                return {**view, "source": path.read_text()}
        return None

    def _others(self, name: str) -> list[Path]:
        if not isinstance(self.sink, FolderSink):
            return []
        return [p for n, p in self.sink.files().items() if n != name and p.suffix != ".wat"]

    def put(self, name: str, fmt: str, source: str, enabled: bool, by: str) -> dict[str, Any]:
        if not NAME.match(name):
            raise RuleRejected("name: letters, digits, '_' and '-', at most 64")
        validate(fmt, source, self._others(name))
        with self._store.session() as session:
            row = session.get(RuleSet, name)
            if row is None:
                row = RuleSet(name=name)
                session.add(row)
            row.format = fmt
            row.source = source
            row.sha256 = hashlib.sha256(source.encode()).hexdigest()
            row.enabled = enabled
            row.updated_at = datetime.now(UTC)
            row.updated_by = by
        if enabled:
            self.sink.put(name, fmt, source)
        else:
            self.sink.remove(name)
        return rule_view(row)

    def set_enabled(self, name: str, enabled: bool, by: str) -> dict[str, Any] | None:
        with self._store.session() as session:
            row = session.get(RuleSet, name)
            if row is None:
                return None
            row.enabled = enabled
            row.updated_at = datetime.now(UTC)
            row.updated_by = by
        if enabled:
            self.sink.put(row.name, row.format, row.source)
        else:
            self.sink.remove(row.name)
        return rule_view(row)

    def delete(self, name: str) -> bool:
        with self._store.session() as session:
            row = session.get(RuleSet, name)
            if row is not None:
                session.delete(row)
        on_disk = isinstance(self.sink, FolderSink) and name in self.sink.files()
        if row is None and not on_disk:
            return False
        self.sink.remove(name)
        return True

    def source_of(self, name: str) -> tuple[str, str] | None:
        found = self.get(name)
        return None if found is None else (found["format"], found["source"])


def test_result(matches: list[RuleMatch], txs: int, elapsed_s: float, limit: int) -> dict[str, Any]:
    return {
        "txs": txs,
        "match_count": len(matches),
        "by_rule": dict(Counter(m.rule_id for m in matches)),
        "matches": [to_builtins(m) for m in matches[:limit]],
        "elapsed_ms": round(elapsed_s * 1000, 1),
    }


def timed_run(
    rules: dict[str, tuple[str, str]], txs: Iterator[EnrichedTx] | list[EnrichedTx], limit: int
) -> dict[str, Any]:
    started = time.perf_counter()
    matches, count = run_rules(rules, txs)
    return test_result(matches, count, time.perf_counter() - started, limit)
