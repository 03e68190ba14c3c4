"""The rule engine of one worker: every module of a rules directory, evaluated batch by batch.

YAML files are parsed one by one and compiled together into ONE indexed module; each ``.wat`` /
``.wasm`` file is its own module. Between batches the engine polls the directory's mtimes (a
``stat`` per file, at most once per ``reload_interval_s``) and reloads what changed, so editing a
rule takes effect without restarting the flow. A file that fails to load is reported as a dead
letter and its previous version (if any) keeps running.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from operators.clock import now_ms as _now_ms
from operators.metrics import RULE_EVALUATIONS, RULE_FAULTS, RULE_MATCHES, RULE_SECONDS
from operators.records import SEVERITIES, DeadLetter, EnrichedTx, RuleMatch
from operators.rules import abi
from operators.rules.compiler import Rule, compile_rules, parse_rules
from operators.rules.errors import RuleLoadError
from operators.rules.fields import format_message, message_values
from operators.rules.host import (
    Limits,
    RuleFault,
    RuleModule,
    check_module,
    compile_module,
    new_engine,
)

log = logging.getLogger(__name__)

DECLARATIVE = "declarative"
_YAML = (".yaml", ".yml")
_MODULES = (".wat", ".wasm")


@dataclass
class _Files:
    """What the engine last loaded from the directory, by path."""

    stamps: dict[Path, tuple[int, int]] = field(default_factory=dict)
    yaml_rules: dict[Path, list[Rule]] = field(default_factory=dict)


class RuleEngine:
    """Evaluates batches of enriched txs against every loaded rule module."""

    def __init__(
        self,
        directory: Path,
        limits: Limits | None = None,
        max_strikes: int = 3,
        reload_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.directory = directory
        # Compiled declarative modules by content hash: workers and restarts skip recompiling.
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.limits = limits or Limits()
        self.max_strikes = max_strikes
        self.reload_interval_s = reload_interval_s
        self._clock = clock
        self._wasm = new_engine()
        self._files = _Files()
        self.modules: dict[str, RuleModule] = {}
        self.disabled: set[str] = set()
        self._pending: list[DeadLetter] = []
        # labels() costs a lock and a tuple per call: keep each rule's child counter.
        self._match_counters: dict[str, Any] = {}
        self._next_poll = 0.0
        self.reload()

    @classmethod
    def from_dir(cls, path: str | Path, **kwargs: object) -> RuleEngine:
        return cls(Path(path), **kwargs)  # type: ignore[arg-type]

    @property
    def rule_count(self) -> int:
        return sum(len(m.rules) for name, m in self.modules.items() if name not in self.disabled)

    # --- loading ---------------------------------------------------------------------------

    def _scan(self) -> dict[Path, tuple[int, int]]:
        stamps: dict[Path, tuple[int, int]] = {}
        if not self.directory.is_dir():
            return stamps
        for path in self.directory.rglob("*"):
            if path.suffix in _YAML + _MODULES and path.is_file():
                st = path.stat()
                stamps[path] = (st.st_mtime_ns, st.st_size)
        return stamps

    def reload(self) -> bool:
        """Loads what changed since the last look; True when anything did."""
        stamps = self._scan()
        old = self._files.stamps
        changed = {p for p in stamps if old.get(p) != stamps[p]}
        removed = set(old) - set(stamps)
        if not changed and not removed:
            return False
        self._files.stamps = stamps
        yaml_changed = False
        for path in sorted(changed | removed):
            if path.suffix in _YAML:
                yaml_changed = True
                if path in removed:
                    self._files.yaml_rules.pop(path, None)
                else:
                    self._parse_yaml(path)
            elif path in removed:
                self._drop(self._module_name(path))
            else:
                self._load_module(path)
        if yaml_changed:
            self._build_declarative()
        log.info(
            "rules loaded from %s: %d modules, %d rules",
            self.directory,
            len(self.modules),
            self.rule_count,
        )
        return True

    def _module_name(self, path: Path) -> str:
        return str(path.relative_to(self.directory))

    def _drop(self, name: str) -> None:
        self.modules.pop(name, None)
        self.disabled.discard(name)

    def _report_load_error(self, error: RuleLoadError) -> None:
        log.warning("rule load error: %s", error)
        RULE_FAULTS.labels(rule=error.path, fault="load").inc()
        self._pending.append(
            DeadLetter(
                stage="rules",
                reason=f"rule load error: {error}",
                payload=error.path,
                at_ms=_now_ms(),
            )
        )

    def _parse_yaml(self, path: Path) -> None:
        try:
            self._files.yaml_rules[path] = parse_rules([path])
        except RuleLoadError as exc:
            self._report_load_error(exc)  # the file's previous rules (if any) stay

    def _build_declarative(self) -> None:
        rules: list[Rule] = []
        seen: dict[str, str] = {}
        for path in sorted(self._files.yaml_rules):
            for rule in self._files.yaml_rules[path]:
                if rule.id in seen:
                    self._report_load_error(
                        RuleLoadError(
                            str(path), f"rule {rule.id!r}: duplicate id (also in {seen[rule.id]})"
                        )
                    )
                    continue
                seen[rule.id] = str(path)
                rules.append(rule)
        if not rules:
            self._drop(DECLARATIVE)
            return
        compiled = compile_rules(rules)
        try:
            module = self._compile_cached(compiled.wat)
            self._install(RuleModule(DECLARATIVE, self._wasm, module, self.limits, compiled.rules))
        except RuleLoadError as exc:
            self._report_load_error(exc)

    def _compile_cached(self, wat: str) -> wasmtime.Module:
        if self.cache_dir is None:
            return compile_module(self._wasm, DECLARATIVE, wat)
        version = importlib.metadata.version("wasmtime")
        key = hashlib.sha256(f"{version}:{abi.ABI_VERSION}:{wat}".encode()).hexdigest()
        path = self.cache_dir / f"{key}.cwasm"
        if path.is_file():
            try:
                # Read, not deserialize_file: that maps the file, and a file changed under a
                # mapping kills the process with SIGBUS.
                module = wasmtime.Module.deserialize(self._wasm, path.read_bytes())
                check_module(DECLARATIVE, module)
                return module
            except (wasmtime.WasmtimeError, RuleLoadError, OSError) as exc:
                log.warning("ignoring rule cache entry %s: %s", path, exc)
        module = compile_module(self._wasm, DECLARATIVE, wat)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(module.serialize())
            partial.replace(path)  # atomic: another worker never reads half a file
        except OSError as exc:
            log.warning("cannot write rule cache %s: %s", path, exc)
        return module

    def _load_module(self, path: Path) -> None:
        name = self._module_name(path)
        try:
            source: bytes | str = path.read_text() if path.suffix == ".wat" else path.read_bytes()
            module = compile_module(self._wasm, str(path), source)
            self._install(RuleModule(name, self._wasm, module, self.limits))
        except RuleLoadError as exc:
            self._report_load_error(exc)
        except (OSError, UnicodeDecodeError) as exc:
            self._report_load_error(RuleLoadError(str(path), f"cannot read: {exc}"))

    def _install(self, module: RuleModule) -> None:
        self.modules[module.name] = module
        self.disabled.discard(module.name)

    def _poll(self) -> None:
        now = self._clock()
        if now >= self._next_poll:
            self._next_poll = now + self.reload_interval_s
            self.reload()

    # --- evaluation ------------------------------------------------------------------------

    def evaluate(self, batch: list[EnrichedTx]) -> tuple[list[RuleMatch], list[DeadLetter]]:
        """Matches of every enabled module on ``batch``, and the dead letters of faults."""
        self._poll()
        errors, self._pending = self._pending, []
        if not batch:
            return [], errors
        started = time.perf_counter()
        active = [m for name, m in self.modules.items() if name not in self.disabled]
        with_calldata = any(m.needs_calldata for m in active)
        try:
            encoded = abi.encode_batch(batch, with_calldata=with_calldata)
        except abi.ENCODE_ERRORS:
            # Rare (a value no normalized tx has): find the culprits, evaluate the rest.
            batch, rejected = abi.split_encodable(batch, with_calldata)
            errors.extend(_unencodable(etx, problem) for etx, problem in rejected)
            if not batch:
                return [], errors
            encoded = abi.encode_batch(batch, with_calldata=with_calldata)
        matches: list[RuleMatch] = []
        matched_ms = _now_ms()
        fields: dict[int, dict[str, Any]] = {}  # message fields of a matched tx, built once
        for module in active:
            try:
                found = module.evaluate(encoded)
            except RuleFault as fault:
                if fault.fault != "trap" or len(batch) == 1:
                    errors.extend(self._strike(module, fault, batch))
                    continue
                # A trap is usually one input the rule did not expect: find it by halving the
                # batch, so the module still evaluates the rest (fuel exhaustion is not retried:
                # a loop would burn the budget again at every level).
                found, poison = _isolate(module, batch, 0, with_calldata)
                errors.extend(self._strike(module, fault, [batch[i] for i in poison]))
            for tx_index, number, severity in found:
                info = module.rule(number)
                etx = batch[tx_index]
                message = info.message or info.id
                if "{" in message:
                    values = fields.get(tx_index)
                    if values is None:
                        values = fields[tx_index] = message_values(etx)
                    message = format_message(message, values)
                tx = etx.tx
                matches.append(
                    RuleMatch(
                        key=f"{info.id}:{tx.chain_id}:{tx.hash}",
                        rule_id=info.id,
                        severity=SEVERITIES[severity]
                        if severity < len(SEVERITIES)
                        else info.severity,
                        message=message,
                        chain_id=tx.chain_id,
                        tx_hash=tx.hash,
                        first_seen_ms=tx.first_seen_ms,
                        matched_ms=matched_ms,
                        tags=info.tags,
                    )
                )
        # One metric update per rule and batch, not per match.
        counters = self._match_counters
        for rule_id, n in Counter(m.rule_id for m in matches).items():
            counter = counters.get(rule_id)
            if counter is None:
                counter = counters[rule_id] = RULE_MATCHES.labels(rule=rule_id)
            counter.inc(n)
        RULE_EVALUATIONS.inc(len(batch))
        RULE_SECONDS.observe(time.perf_counter() - started)
        return matches, errors

    def _strike(
        self, module: RuleModule, fault: RuleFault, batch: list[EnrichedTx]
    ) -> list[DeadLetter]:
        module.strikes += 1
        RULE_FAULTS.labels(rule=module.name, fault=fault.fault).inc()
        payload = json.dumps({"module": module.name, "tx_hashes": [e.tx.hash for e in batch]})
        letters = [
            DeadLetter(
                stage="rules",
                reason=(
                    f"rule {fault.fault}: module {module.name} "
                    f"(strike {module.strikes}): {fault.detail}"
                ),
                payload=payload,
                at_ms=_now_ms(),
            )
        ]
        if module.strikes >= self.max_strikes:
            self.disabled.add(module.name)
            log.warning("rule module %s disabled after %d faults", module.name, module.strikes)
            letters.append(
                DeadLetter(
                    stage="rules",
                    reason=f"rule disabled: module {module.name} after {module.strikes} faults",
                    payload=module.name,
                    at_ms=_now_ms(),
                )
            )
        return letters


def _unencodable(etx: EnrichedTx, problem: str) -> DeadLetter:
    tx = etx.tx
    return DeadLetter(
        stage="rules",
        reason=f"unencodable: {problem}",
        payload=json.dumps({"tx_hash": str(tx.hash)}),
        source=str(tx.source),
        chain_id=tx.chain_id if isinstance(tx.chain_id, int) else None,
        at_ms=_now_ms(),
    )


def _isolate(
    module: RuleModule, batch: list[EnrichedTx], start: int, with_calldata: bool
) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Matches of the txs of ``batch`` the module does not trap on, and the indices it traps on.

    ``start`` is ``batch``'s offset in the whole batch: match indices are made absolute.
    """
    if len(batch) == 1:
        return [], [start]
    middle = len(batch) // 2
    found: list[tuple[int, int, int]] = []
    poison: list[int] = []
    for offset, half in ((0, batch[:middle]), (middle, batch[middle:])):
        try:
            part = module.evaluate(abi.encode_batch(half, with_calldata))
        except RuleFault as fault:
            if fault.fault != "trap":
                return found, poison + list(range(start + offset, start + len(batch)))
            sub_found, sub_poison = _isolate(module, half, start + offset, with_calldata)
            found.extend(sub_found)
            poison.extend(sub_poison)
            continue
        found.extend((start + offset + i, rule, severity) for i, rule, severity in part)
    return found, poison
