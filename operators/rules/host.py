"""One rule module in its own wasmtime store: checked at load, fuel- and memory-bounded per call.

A module gets one store so that fuel, memory and faults are its own: a module that loops or traps
costs only its own evaluation of the batch, never the other modules'.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from operators.rules import abi
from operators.rules.compiler import RuleInfo
from operators.rules.errors import RuleLoadError

log = logging.getLogger(__name__)

# The only host function a rule may import: a debug log line (bounded, rate-free: it is a log).
ALLOWED_IMPORTS = {("scorpius", "log")}
_LOG_MAX_BYTES = 1024
_META_MAX_BYTES = 1 << 20
_PAGE = 65536


@dataclass(frozen=True)
class Limits:
    """Per-module sandbox limits (see rules/README.md, "Limits")."""

    memory_bytes: int = 64 << 20
    table_elements: int = 1 << 20
    fuel_per_call: int = 2_000_000
    fuel_per_tx: int = 200_000
    # Output slots per tx before the host re-runs a batch with a larger output area.
    matches_per_tx: int = 4


class RuleFault(Exception):
    """A module failed on a batch. ``fault`` is the metric label: fuel | trap | memory | output."""

    def __init__(self, fault: str, detail: str) -> None:
        super().__init__(f"{fault}: {detail}")
        self.fault = fault
        self.detail = detail


def _trap_text(exc: Exception) -> str:
    """The cause of a trap without its backtrace: "wasm trap: out of bounds memory access"."""
    text = str(exc)
    if "Caused by:" in text:
        text = text.split("Caused by:", 1)[1]
    causes = [
        line.strip().split(": ", 1)[-1] if line.strip()[:1].isdigit() else line.strip()
        for line in text.splitlines()
        if line.strip()
    ]
    return "; ".join(causes) or type(exc).__name__


def new_engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = True
    return wasmtime.Engine(config)


def _check_imports(path: str, module: wasmtime.Module) -> None:
    for imp in module.imports:
        if (imp.module, imp.name) in ALLOWED_IMPORTS:
            continue
        what = f"{imp.module}.{imp.name}"
        if imp.module.startswith("wasi"):
            raise RuleLoadError(
                path,
                f"imports {what}: WASI (files, clock, network, environment) is not available to"
                " rules; the only allowed import is scorpius.log",
            )
        raise RuleLoadError(
            path, f"imports {what}: not allowed (the only allowed import is scorpius.log)"
        )


def _check_exports(path: str, module: wasmtime.Module) -> None:
    names = {e.name for e in module.exports}
    missing = {"memory", "scorpius_abi_version", "alloc", "eval_batch"} - names
    if missing:
        raise RuleLoadError(
            path, f"missing exports {', '.join(sorted(missing))} (ABI v{abi.ABI_VERSION})"
        )


def compile_module(engine: wasmtime.Engine, path: str, source: bytes | str) -> wasmtime.Module:
    """A checked module from .wasm bytes or .wat text (a bad one raises ``RuleLoadError``)."""
    try:
        module = wasmtime.Module(engine, source)
    except wasmtime.WasmtimeError as exc:
        raise RuleLoadError(path, f"not a valid module: {str(exc).splitlines()[0]}") from None
    check_module(path, module)
    return module


def check_module(path: str, module: wasmtime.Module) -> None:
    """Refuses a module with a forbidden import or without the ABI's exports."""
    _check_imports(path, module)
    _check_exports(path, module)


class RuleModule:
    """An instantiated rule module: ``evaluate`` an encoded batch into (tx, rule, severity)."""

    def __init__(
        self,
        name: str,
        engine: wasmtime.Engine,
        module: wasmtime.Module,
        limits: Limits,
        rules: list[RuleInfo] | None = None,
    ) -> None:
        self.name = name
        self.limits = limits
        self.strikes = 0
        self._store = wasmtime.Store(engine)
        self._store.set_limits(
            memory_size=limits.memory_bytes, table_elements=limits.table_elements, instances=1
        )
        self._store.set_fuel(limits.fuel_per_call)
        linker = wasmtime.Linker(engine)
        log_type = wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], [])
        linker.define_func("scorpius", "log", log_type, self._log, access_caller=True)
        try:
            instance = linker.instantiate(self._store, module)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise RuleLoadError(name, f"cannot instantiate: {str(exc).splitlines()[0]}") from None
        exports = instance.exports(self._store)
        memory = exports["memory"]
        if not isinstance(memory, wasmtime.Memory):
            raise RuleLoadError(name, "export 'memory' is not a memory")
        self._memory = memory
        self._alloc = exports["alloc"]
        self._eval = exports["eval_batch"]
        version = self._call(exports["scorpius_abi_version"])
        if version != abi.ABI_VERSION:
            raise RuleLoadError(name, f"ABI version {version}, this host speaks {abi.ABI_VERSION}")
        self.needs_calldata = False
        if "scorpius_needs_calldata" in exports:
            self.needs_calldata = bool(self._call(exports["scorpius_needs_calldata"]))
        self.rules = rules if rules is not None else self._read_meta(exports)
        self._in_ptr = self._in_cap = 0
        self._out_ptr = self._out_cap = 0

    def _call(self, func: Any, *args: int) -> int:
        try:
            result = func(self._store, *args)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise RuleLoadError(self.name, f"trapped at load: {str(exc).splitlines()[0]}") from None
        return int(result)

    def _read_meta(self, exports: Any) -> list[RuleInfo]:
        """Rule names from the optional ``scorpius_meta`` export (NUL-terminated JSON)."""
        if "scorpius_meta" not in exports:
            return []
        ptr = self._call(exports["scorpius_meta"])
        raw = self._memory.read(
            self._store, ptr, min(ptr + _META_MAX_BYTES, self._memory.data_len(self._store))
        )
        text = bytes(raw).split(b"\0", 1)[0]
        try:
            doc = json.loads(text)
            return [
                RuleInfo(
                    id=str(r["id"]),
                    severity=str(r.get("severity", "medium")),
                    message=str(r.get("message", r["id"])),
                    tags=tuple(r.get("tags", ())),
                )
                for r in doc["rules"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise RuleLoadError(self.name, f"bad scorpius_meta JSON: {exc}") from None

    def _log(self, caller: wasmtime.Caller, ptr: int, length: int) -> None:
        memory = caller["memory"]
        if isinstance(memory, wasmtime.Memory):
            end = min(ptr + min(length, _LOG_MAX_BYTES), memory.data_len(caller))
            text = bytes(memory.read(caller, ptr, end)).decode("utf-8", "replace")
            log.info("rule %s: %s", self.name, text)

    def rule(self, number: int) -> RuleInfo:
        if number < len(self.rules):
            return self.rules[number]
        return RuleInfo(id=f"{Path(self.name).stem}#{number}", severity="medium", message="")

    def _fault(self, exc: Exception) -> RuleFault:
        text = _trap_text(exc)
        if isinstance(exc, wasmtime.Trap) and exc.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
            limit = self.limits
            return RuleFault(
                "fuel", f"{text} (budget {limit.fuel_per_call} + {limit.fuel_per_tx}/tx)"
            )
        return RuleFault("trap", text)

    def _allocate(self, size: int) -> int:
        try:
            ptr = int(self._alloc(self._store, size))  # type: ignore[operator]
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise self._fault(exc) from None
        if ptr <= 0 or ptr + size > self._memory.data_len(self._store):
            raise RuleFault(
                "memory", f"alloc({size}) failed (limit {self.limits.memory_bytes} bytes)"
            )
        return ptr

    def evaluate(self, batch: abi.EncodedBatch) -> list[tuple[int, int, int]]:
        """(tx index, rule number, severity index) of every match; raises ``RuleFault``."""
        if batch.count == 0:
            return []
        store = self._store
        size = len(batch.data)
        if size > self._in_cap:
            # Grow geometrically so a bump allocator in the module does not leak per batch.
            self._in_cap = max(size, 2 * self._in_cap)
            self._in_ptr = self._allocate(self._in_cap)
        wanted = batch.count * self.limits.matches_per_tx
        if wanted > self._out_cap:
            self._out_cap = max(wanted, 2 * self._out_cap)
            self._out_ptr = self._allocate(self._out_cap * abi.MATCH.size)
        self._memory.write(store, batch.data, self._in_ptr)
        n = self._run(batch.count)
        if n > self._out_cap:
            self._out_cap = n
            self._out_ptr = self._allocate(n * abi.MATCH.size)
            n = self._run(batch.count)
        if n < 0 or n > self._out_cap:
            raise RuleFault("output", f"eval_batch returned {n} matches for {self._out_cap} slots")
        raw = self._memory.read(store, self._out_ptr, self._out_ptr + n * abi.MATCH.size)
        found = list(abi.MATCH.iter_unpack(raw))
        bad = next((m for m in found if m[0] >= batch.count), None)
        if bad is not None:
            raise RuleFault("output", f"match for tx {bad[0]} in a batch of {batch.count}")
        return found

    def _run(self, count: int) -> int:
        self._store.set_fuel(self.limits.fuel_per_call + self.limits.fuel_per_tx * count)
        try:
            return int(self._eval(self._store, self._in_ptr, count, self._out_ptr, self._out_cap))  # type: ignore[operator]
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise self._fault(exc) from None
