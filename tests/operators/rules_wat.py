"""Hand-written ABI v1 test modules: a valid shell around an ``eval_batch`` body of choice."""

from __future__ import annotations

from pathlib import Path

SHELL = """(module
  {imports}
  (memory (export "memory") {pages})
  (global $heap (mut i32) (i32.const 65536))
  (func (export "scorpius_abi_version") (result i32) (i32.const 1))
  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32) (local $pages i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
    (local.set $pages (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
        (then (return (i32.const 0))))))
    (local.get $p))
  (func (export "eval_batch") (param $ptr i32) (param $count i32) (param $out i32) (param $cap i32) (result i32)
    (local $i i32) (local $n i32)
    {body})
)
"""


def _match_each(check: str = "") -> str:
    """A loop that records a match of rule 0 with severity 2 for every tx, after ``check``."""
    return f"""
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count))){check}
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 12))) (local.get $i))
        (i32.store offset=4 (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 12))) (i32.const 0))
        (i32.store offset=8 (i32.add (local.get $out) (i32.mul (local.get $i) (i32.const 12))) (i32.const 2))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $count)"""


# Every tx matches rule 0 with severity 2: a module whose effect is easy to see.
MATCH_ALL = _match_each()

INFINITE_LOOP = "(loop $forever (br $forever)) (i32.const 0)"

# Grows memory a page at a time until the store's limit refuses, then writes past the end.
MEMORY_BOMB = """
    (block $refused
      (loop $grow
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow)))
    (i32.store (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
    (i32.const 0)"""

TRAP = "(unreachable)"


def module(body: str, imports: str = "", pages: int = 1) -> str:
    return SHELL.format(body=body, imports=imports, pages=pages)


def write(directory: Path, name: str, body: str, **kwargs: object) -> Path:
    path = directory / name
    path.write_text(module(body, **kwargs))  # type: ignore[arg-type]
    return path


# Matches every tx but traps on a contract creation (kind 4): a rule that did not expect an input.
TRAP_ON_CREATION = _match_each("""
        (if (i32.eq (i32.load8_u offset=4 (i32.add (local.get $ptr) (i32.mul (local.get $i) (i32.const 416)))) (i32.const 4))
          (then (unreachable)))""")
