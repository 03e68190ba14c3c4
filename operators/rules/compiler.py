"""Declarative rules (YAML) compiled into ONE WebAssembly module with a built-in index.

A rule is a conjunction of field predicates::

    rules:
      - id: large-native-transfer
        severity: high
        message: "{value_eth:.0f} ETH from {sender} to {to}"
        chain: [1, 10, 42161, 8453]
        when:
          - kind == transfer
          - value_eth >= 1000

Predicates: ``<field> <op> <value>`` with ops ``== != > >= < <= in, not in`` and the unary
``present`` / ``missing``; values are numbers, 0x-hex, bare words, ``[a, b]`` lists or ``$name``
(a list declared under a top-level ``lists:``). A comparison on an absent field is false.

Each rule becomes one wasm function. The module's ``eval_batch`` looks every tx up in hash tables
(by ``to``, ``token``, ``counterparty``, ``sender``, ``selector``) and a per-kind table, so a tx
only runs the rules that can match it; a rule sits in exactly one of those buckets (its most
selective predicate), which also means a rule never fires twice for one tx.
"""

from __future__ import annotations

import re
import string
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from operators.records import KINDS, SEVERITIES
from operators.rules import abi
from operators.rules.errors import RuleLoadError
from operators.rules.fields import FIELDS, MESSAGE_FIELDS, Field

# libyaml's loader when PyYAML was built with it: 10,000 rules parse several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_PREDICATE = re.compile(
    r"^\s*(?P<field>[a-z_][a-z_.0-9]*)\s*(?P<op>==|!=|>=|<=|>|<|not\s+in\b|in\b|present\b|missing\b)"
    r"\s*(?P<value>.*?)\s*$"
)
_ORDER_OPS = {">", ">=", "<", "<="}
_UNARY_OPS = {"present", "missing"}
# Which predicate a rule is indexed by, most selective first.
_ADDRESS_INDEXES = ("to", "token", "counterparty", "sender")
_SMALL_SET = 3  # address lists longer than this are tested with a hash set, not a chain of ==

_HASH_MUL64 = 0x9E3779B97F4A7C15
_HASH_MUL32 = 0x9E3779B1
_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1
_DATA_BASE = 1024
_ADDRESS_ENTRY = 32  # key[20], list offset u32 @20, list length u32 @24, padding
_SELECTOR_ENTRY = 16  # key u32 @0, list offset u32 @4, list length u32 @8, padding


@dataclass(frozen=True)
class Predicate:
    field: Field
    op: str
    values: tuple[Any, ...] = ()


@dataclass
class Rule:
    id: str
    severity: str
    message: str
    tags: tuple[str, ...]
    predicates: list[Predicate]
    source: str


@dataclass(frozen=True)
class RuleInfo:
    """What the host needs to turn a (module, rule number) match into a ``RuleMatch``."""

    id: str
    severity: str
    message: str
    tags: tuple[str, ...] = ()


@dataclass
class CompiledRules:
    wat: str
    rules: list[RuleInfo]


# --- parsing -----------------------------------------------------------------------------------


def _split_list(text: str) -> list[str]:
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    return [item.strip().strip("'\"") for item in inner.split(",") if item.strip()]


def _number(raw: Any, where: str) -> Decimal:
    try:
        return Decimal(str(raw).replace("_", ""))
    except InvalidOperation:
        raise RuleLoadError(where, f"not a number: {raw!r}") from None


def _address(raw: Any, where: str) -> bytes:
    text = format(raw, "040x") if isinstance(raw, int) else str(raw).lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{40}", text):
        raise RuleLoadError(where, f"not a 20-byte address: {raw!r}")
    return bytes.fromhex(text)


def _selector(raw: Any, where: str) -> int:
    text = format(raw, "08x") if isinstance(raw, int) else str(raw).lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{8}", text):
        raise RuleLoadError(where, f"not a 4-byte selector: {raw!r}")
    return int.from_bytes(bytes.fromhex(text), "little")


def _value(f: Field, raw: Any, where: str) -> Any:
    if f.type == "address":
        return _address(raw, where)
    if f.type == "selector":
        return _selector(raw, where)
    if f.type == "label":
        return abi.label_hash(str(raw))
    if f.type == "kind":
        if raw not in KINDS:
            raise RuleLoadError(where, f"unknown kind {raw!r} (one of {', '.join(KINDS)})")
        return KINDS.index(raw)
    if f.type == "flag":
        text = str(raw).lower()
        if text not in ("true", "false"):
            raise RuleLoadError(where, f"{f.name} is true or false, not {raw!r}")
        return text == "true"
    number = _number(raw, where)
    # Exact decimal arithmetic: "value_eth > 0.1" is exactly 10**17 wei.
    return number * 10**18 if f.type == "eth" else number


def _parse_predicate(text: Any, lists: dict[str, list[Any]], where: str) -> Predicate:
    if isinstance(text, dict):
        if set(text) - {"field", "op", "value"}:
            raise RuleLoadError(where, f"a predicate mapping has field, op, value: {text!r}")
        name, op, raw = str(text.get("field")), str(text.get("op")), text.get("value")
        raw_items = raw if isinstance(raw, list) else [raw]
    else:
        match = _PREDICATE.match(str(text))
        if match is None:
            raise RuleLoadError(where, f"cannot read predicate {text!r}")
        name, op, value_text = match["field"], " ".join(match["op"].split()), match["value"]
        if value_text.startswith("$"):
            if value_text[1:] not in lists:
                raise RuleLoadError(where, f"unknown list {value_text!r}")
            raw_items = lists[value_text[1:]]
        elif op in ("in", "not in"):
            raw_items = _split_list(value_text)
        else:
            raw_items = [value_text.strip("'\"")]
    f = FIELDS.get(name)
    if f is None:
        raise RuleLoadError(where, f"unknown field {name!r} (known: {', '.join(sorted(FIELDS))})")
    if op in _UNARY_OPS:
        if not f.presence and f.type != "flag":
            raise RuleLoadError(where, f"{name} is always present")
        return Predicate(f, op)
    if op in _ORDER_OPS and f.type not in ("u8", "u32", "u64", "u256", "eth", "f64"):
        raise RuleLoadError(where, f"{name} cannot be compared with {op}")
    if op not in ("in", "not in") and len(raw_items) != 1:
        raise RuleLoadError(where, f"{op} takes one value")
    if not raw_items:
        raise RuleLoadError(where, f"{name} {op} needs a value")
    return Predicate(f, op, tuple(_value(f, raw, where) for raw in raw_items))


def parse_rules(paths: Iterable[Path]) -> list[Rule]:
    """Every rule of the YAML files, checked (a bad file raises ``RuleLoadError`` naming it)."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            doc = yaml.load(path.read_text(), Loader=_YAML_LOADER) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RuleLoadError(str(path), f"cannot read YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rules", []), list):
            raise RuleLoadError(str(path), "expected a mapping with a 'rules' list")
        lists = doc.get("lists") or {}
        if not isinstance(lists, dict):
            raise RuleLoadError(str(path), "'lists' must map names to lists")
        for entry in doc.get("rules", []):
            rules.append(_parse_rule(entry, lists, path, seen))
    return rules


def _parse_rule(entry: Any, lists: dict[str, Any], path: Path, seen: dict[str, str]) -> Rule:
    if not isinstance(entry, dict) or "id" not in entry:
        raise RuleLoadError(str(path), f"a rule is a mapping with an 'id': {entry!r}")
    rule_id = str(entry["id"])
    where = f"{path} rule {rule_id!r}"
    if rule_id in seen:
        raise RuleLoadError(where, f"duplicate rule id (also in {seen[rule_id]})")
    seen[rule_id] = str(path)
    severity = str(entry.get("severity", "medium"))
    if severity not in SEVERITIES:
        raise RuleLoadError(where, f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    message = str(entry.get("message", rule_id))
    for _, name, _, _ in string.Formatter().parse(message):
        if name is not None and name not in MESSAGE_FIELDS:
            raise RuleLoadError(where, f"message names unknown field {{{name}}}")
    when = entry.get("when") or []
    if not isinstance(when, list):
        raise RuleLoadError(where, "'when' is a list of predicates")
    predicates = [_parse_predicate(p, lists, where) for p in when]
    chains = entry.get("chain")
    if chains is not None:
        items = chains if isinstance(chains, list) else [chains]
        predicates.append(Predicate(FIELDS["chain"], "in", tuple(_number(c, where) for c in items)))
    tags = tuple(str(t) for t in entry.get("tags") or ())
    return Rule(rule_id, severity, message, tags, predicates, str(path))


# --- code generation ---------------------------------------------------------------------------


def _i64(value: int) -> int:
    """An unsigned 64-bit constant as WAT's signed literal."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def _i32(value: int) -> int:
    value &= _MASK32
    return value - (1 << 32) if value >= 1 << 31 else value


def address_slot(key: bytes, bits: int) -> int:
    """Home slot of an address in a table of 2**bits entries (the wasm side computes the same)."""
    return ((int.from_bytes(key[12:20], "little") * _HASH_MUL64) & _MASK64) >> (64 - bits)


def selector_slot(key: int, bits: int) -> int:
    return ((key * _HASH_MUL32) & _MASK32) >> (32 - bits)


def _table_bits(n: int) -> int:
    bits = 1
    while (1 << bits) < 2 * n:
        bits += 1
    return bits


@dataclass
class _Data:
    """The module's data segment, laid out as it is built."""

    blob: bytearray = field(default_factory=bytearray)

    def at(self) -> int:
        return _DATA_BASE + len(self.blob)

    def add(self, chunk: bytes) -> int:
        while len(self.blob) % 8:
            self.blob.append(0)
        where = self.at()
        self.blob += chunk
        return where

    def ids(self, rule_ids: list[int]) -> tuple[int, int]:
        return self.add(b"".join(i.to_bytes(4, "little") for i in rule_ids)), len(rule_ids)

    def sorted_ids(self, rule_ids: list[int], floors: list[float]) -> tuple[int, int]:
        """(rule id u32, pad, value floor f64) entries by rising floor, for ``$run_sorted``."""
        ordered = sorted(rule_ids, key=lambda i: floors[i])
        entries = b"".join(struct.pack("<Ixxxxd", i, floors[i]) for i in ordered)
        return self.add(entries), len(ordered)


@dataclass(frozen=True)
class _Table:
    base: int
    bits: int

    def lookup20(self, key_expr: str) -> str:
        return (
            f"(call $lookup20 (i32.const {self.base}) (i64.const {64 - self.bits}) "
            f"(i32.const {(1 << self.bits) - 1}) {key_expr})"
        )

    def lookup4(self, key_expr: str) -> str:
        return (
            f"(call $lookup4 (i32.const {self.base}) (i32.const {32 - self.bits}) "
            f"(i32.const {(1 << self.bits) - 1}) {key_expr})"
        )


def _address_table(data: _Data, lists: dict[bytes, tuple[int, int]]) -> _Table:
    bits = _table_bits(len(lists))
    rows = (
        (address_slot(key, bits), key + _span(off, length)) for key, (off, length) in lists.items()
    )
    return _probed_table(data, bits, _ADDRESS_ENTRY, rows)


def _selector_table(data: _Data, lists: dict[int, tuple[int, int]]) -> _Table:
    bits = _table_bits(len(lists))
    rows = (
        (selector_slot(key, bits), key.to_bytes(4, "little") + _span(off, length))
        for key, (off, length) in lists.items()
    )
    return _probed_table(data, bits, _SELECTOR_ENTRY, rows)


def _span(off: int, length: int) -> bytes:
    return off.to_bytes(4, "little") + length.to_bytes(4, "little")


def _probed_table(data: _Data, bits: int, entry: int, rows: Iterable[tuple[int, bytes]]) -> _Table:
    """A linear-probing hash table of ``entry``-byte slots: each row (key, list offset, list
    length) goes to the first free slot from its hash slot; a slot is free while the place of
    a row's last four bytes, its list length, is still zero."""
    table = bytearray(entry << bits)
    for slot, row in rows:
        while table[slot * entry + len(row) - 4 : slot * entry + len(row)] != bytes(4):
            slot = (slot + 1) & ((1 << bits) - 1)
        table[slot * entry : slot * entry + len(row)] = row
    return _Table(data.add(bytes(table)), bits)


def _present(bit: int) -> str:
    flags = f"(i32.load offset={abi.OFF_FLAGS} (local.get $r))"
    return f"(i32.ne (i32.and {flags} (i32.const {bit})) (i32.const 0))"


def _any(exprs: list[str]) -> str:
    out = exprs[0]
    for e in exprs[1:]:
        out = f"(i32.or {out} {e})"
    return out


def _u256_limbs(value: int) -> str:
    value = max(0, min(value, (1 << 256) - 1))
    return " ".join(f"(i64.const {_i64(value >> (64 * i))})" for i in range(4))


def _compare_int(p: Predicate, op: str, value: Decimal) -> str:
    """Comparison of an integer field with a possibly fractional bound, made exact."""
    f = p.field
    if value != value.to_integral_value():
        if op in ("==",):
            return "(i32.const 0)"
        if op == "!=":
            return "(i32.const 1)"
        floor = int(value.to_integral_value(rounding="ROUND_FLOOR"))
        op, bound = {
            ">": (">", floor),
            ">=": (">", floor),
            "<": ("<=", floor),
            "<=": ("<=", floor),
        }[op]
    else:
        bound = int(value)
    if bound < 0:
        # Unsigned fields: everything is above a negative bound.
        return "(i32.const 1)" if op in (">", ">=", "!=") else "(i32.const 0)"
    signed = {"==": "eq", "!=": "ne", ">": "gt_s", ">=": "ge_s", "<": "lt_s", "<=": "le_s"}[op]
    if f.type in ("u256", "eth"):
        return (
            f"(i32.{signed} (call $u256_cmp (i32.add (local.get $r) (i32.const {f.offset})) "
            f"{_u256_limbs(bound)}) (i32.const 0))"
        )
    unsigned = {"==": "eq", "!=": "ne", ">": "gt_u", ">=": "ge_u", "<": "lt_u", "<=": "le_u"}[op]
    if f.type == "u64":
        if bound > _MASK64:
            return "(i32.const 1)" if op in ("<", "<=", "!=") else "(i32.const 0)"
        load64 = f"(i64.load offset={f.offset} (local.get $r))"
        return f"(i64.{unsigned} {load64} (i64.const {_i64(bound)}))"
    load = "i32.load8_u" if f.type in ("u8", "kind") else "i32.load"
    limit = 0xFF if f.type in ("u8", "kind") else _MASK32
    if bound > limit:
        return "(i32.const 1)" if op in ("<", "<=", "!=") else "(i32.const 0)"
    return f"(i32.{unsigned} ({load} offset={f.offset} (local.get $r)) (i32.const {_i32(bound)}))"


def _equals(p: Predicate, value: Any, data: _Data) -> str:
    f = p.field
    if f.type == "address":
        lo, mid, hi = (int.from_bytes(value[a:b], "little") for a, b in ((0, 8), (8, 16), (16, 20)))
        at = f.offset
        return (
            f"(i32.and (i32.and "
            f"(i64.eq (i64.load offset={at} (local.get $r)) (i64.const {_i64(lo)})) "
            f"(i64.eq (i64.load offset={at + 8} (local.get $r)) (i64.const {_i64(mid)}))) "
            f"(i32.eq (i32.load offset={at + 16} (local.get $r)) (i32.const {_i32(hi)})))"
        )
    if f.type in ("selector", "label"):
        return f"(i32.eq (i32.load offset={f.offset} (local.get $r)) (i32.const {_i32(value)}))"
    if f.type == "kind":
        return f"(i32.eq (i32.load8_u offset={f.offset} (local.get $r)) (i32.const {value}))"
    if f.type == "flag":
        return _present(f.bit) if value else f"(i32.eqz {_present(f.bit)})"
    if f.type == "f64":
        return f"(f64.eq (f64.load offset={f.offset} (local.get $r)) (f64.const {float(value)!r}))"
    return _compare_int(p, "==", value)


def _predicate(p: Predicate, data: _Data) -> str:
    f = p.field
    if p.op in _UNARY_OPS:
        bit = f.bit if f.type == "flag" else f.presence
        return _present(bit) if p.op == "present" else f"(i32.eqz {_present(bit)})"
    if p.op in ("in", "not in") and f.type == "address" and len(p.values) > _SMALL_SET:
        members = {v: (0, 1) for v in p.values}
        member = f"(i32.ne {_address_table(data, members).lookup20(_field_ptr(f))} (i32.const 0))"
        expr = member if p.op == "in" else f"(i32.eqz {member})"
    elif p.op in ("in", "not in", "==", "!="):
        expr = _any([_equals(p, v, data) for v in p.values])
        if p.op in ("not in", "!="):
            expr = f"(i32.eqz {expr})"
    elif f.type == "f64":
        op = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}[p.op]
        load = f"(f64.load offset={f.offset} (local.get $r))"
        expr = f"(f64.{op} {load} (f64.const {float(p.values[0])!r}))"
    else:
        expr = _compare_int(p, p.op, p.values[0])
    if f.presence:
        expr = f"(i32.and {_present(f.presence)} {expr})"
    return expr


def _field_ptr(f: Field) -> str:
    return f"(i32.add (local.get $r) (i32.const {f.offset}))"


def _value_floor(rule: Rule) -> float:
    """A value_eth below which the rule cannot match (0.0 when it has no lower bound on value).

    Python's int / int division is correctly rounded and rounding is monotonic, so a tx whose
    value is at least ``floor(bound)`` wei has a record ``value_eth`` of at least this float:
    skipping rules whose floor is above the record's ``value_eth`` never skips a match.
    """
    best = 0
    for p in rule.predicates:
        if p.field.name in ("value", "value_eth") and p.op in (">", ">=", "=="):
            best = max(best, int(p.values[0].to_integral_value(rounding="ROUND_FLOOR")))
    return best / 10**18


def _index_key(rule: Rule) -> tuple[str, Predicate | None]:
    """The bucket a rule lives in: its most selective ``==`` / ``in`` predicate."""
    for name in (*_ADDRESS_INDEXES, "selector", "kind"):
        for p in rule.predicates:
            if p.field.name == name and p.op in ("==", "in"):
                return name, p
    return "always", None


# The prelude sits with the rule language in rules/, beside the examples and the SDK.
_PRELUDE = resources.files("rules").joinpath("compiler_prelude.wat").read_text()
# The batch loop: for each record, the index lookups (``body``) run the candidate rules.
_EVAL_BATCH = """
  (func (export "eval_batch")
    (param $ptr i32) (param $count i32) (param $out i32) (param $cap i32) (result i32)
    (local $i i32) (local $r i32) (local $n i32) (local $e i32) (local $k i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $r (i32.add (local.get $ptr) (i32.mul (local.get $i) (i32.const {record_size}))))
{body}
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))
"""


def compile_rules(rules: list[Rule]) -> CompiledRules:
    """One WAT module holding every rule, its index, and the ABI v1 exports."""
    data = _Data()
    severities = data.add(bytes(SEVERITIES.index(r.severity) for r in rules) or b"\0")
    buckets: dict[str, dict[Any, list[int]]] = {}
    funcs: list[str] = []
    floors = [_value_floor(rule) for rule in rules]
    for number, rule in enumerate(rules):
        index_name, index_pred = _index_key(rule)
        # dict.fromkeys: "to in [a, a]" must not list the rule twice under a.
        keys = dict.fromkeys(index_pred.values if index_pred is not None else (None,))
        for key in keys:
            buckets.setdefault(index_name, {}).setdefault(key, []).append(number)
        checks = [_predicate(p, data) for p in rule.predicates if p is not index_pred]
        body = "".join(f"\n    (br_if $no (i32.eqz {c}))" for c in checks)
        funcs.append(
            f"  (func $r{number} (type $pred) (param $r i32) (result i32)\n"
            f"    (block $no{body}\n      (return (i32.const 1)))\n    (i32.const 0))"
        )
    lookups: list[str] = []
    for name in _ADDRESS_INDEXES:
        if name in buckets:
            f = FIELDS[name]
            table = _address_table(data, {k: data.ids(v) for k, v in buckets[name].items()})
            lookup = table.lookup20(_field_ptr(f))
            guard = _present(f.presence) if f.presence else "(i32.const 1)"
            lookups.append(_bucket_call(guard, lookup, 20))
    if "selector" in buckets:
        table = _selector_table(data, {k: data.ids(v) for k, v in buckets["selector"].items()})
        lookup = table.lookup4(f"(i32.load offset={abi.OFF_SELECTOR} (local.get $r))")
        lookups.append(_bucket_call(_present(abi.FLAG_HAS_SELECTOR), lookup, 4))
    if "kind" in buckets:
        spans = [data.sorted_ids(buckets["kind"].get(k, []), floors) for k in range(len(KINDS))]
        kinds = data.add(
            b"".join(o.to_bytes(4, "little") + n.to_bytes(4, "little") for o, n in spans)
        )
        lookups.append(
            f"    (local.set $k (i32.load8_u offset={abi.OFF_KIND} (local.get $r)))\n"
            f"    (if (i32.lt_u (local.get $k) (i32.const {len(KINDS)}))\n"
            f"      (then (local.set $e (i32.add (i32.const {kinds}) "
            f"(i32.shl (local.get $k) (i32.const 3))))\n"
            f"        (local.set $n (call $run_sorted (local.get $r) (i32.load (local.get $e)) "
            f"(i32.load offset=4 (local.get $e)) {_RUN_TAIL})))"
        )
    if "always" in buckets:
        off, length = data.sorted_ids(buckets["always"][None], floors)
        lookups.append(
            f"    (local.set $n (call $run_sorted (local.get $r) "
            f"(i32.const {off}) (i32.const {length}) {_RUN_TAIL})"
        )
    heap = (data.at() + 65535) & ~65535
    pages = heap // 65536 + 1
    prelude = _PRELUDE.format(
        heap=heap, abi=abi.ABI_VERSION, mul64=_i64(_HASH_MUL64), mul32=_i32(_HASH_MUL32),
        severities=severities, value_eth=abi.OFF_VALUE_ETH,
    )  # fmt: skip
    eval_batch = _EVAL_BATCH.format(record_size=abi.RECORD_SIZE, body="\n".join(lookups))
    dispatch = ""
    if rules:
        names = " ".join(f"$r{i}" for i in range(len(rules)))
        dispatch = f"  (table {len(rules)} funcref)\n  (elem (i32.const 0) func {names})\n"
    wat = (
        f'(module\n  (memory (export "memory") {pages})\n{prelude}{dispatch}'
        + "\n".join(funcs)
        + eval_batch
        + f'  (data (i32.const {_DATA_BASE}) "{_wat_bytes(bytes(data.blob))}")\n)\n'
    )
    infos = [RuleInfo(r.id, r.severity, r.message, r.tags) for r in rules]
    return CompiledRules(wat=wat, rules=infos)


# The arguments every $run / $run_sorted call ends with, and the closing of its local.set.
_RUN_TAIL = "(local.get $i) (local.get $out) (local.get $cap) (local.get $n))"


def _bucket_call(guard: str, lookup: str, span_at: int) -> str:
    """Runs the rules of the table entry ``lookup`` finds (its list span sits at ``span_at``)."""
    return (
        f"    (if {guard}\n      (then (local.set $e {lookup})\n"
        f"        (if (local.get $e) (then (local.set $n (call $run (local.get $r) "
        f"(i32.load offset={span_at} (local.get $e)) "
        f"(i32.load offset={span_at + 4} (local.get $e)) {_RUN_TAIL})))))"
    )


def _wat_bytes(blob: bytes) -> str:
    return "".join(f"\\{b:02x}" for b in blob)
