"""bench/ reaches into tests/ through one module, bench/testbed.py: what a benchmark borrows
from the test set-up is listed in one place, not scattered over the scripts."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imports_of_tests(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path.relative_to(BENCH)}: {n}" for n in names if n.split(".")[0] == "tests"]
    return found


def test_only_the_testbed_imports_tests() -> None:
    scripts = [p for p in sorted(BENCH.rglob("*.py")) if p.name != "testbed.py"]
    assert len(scripts) > 10
    assert [hit for p in scripts for hit in _imports_of_tests(p)] == []
    assert _imports_of_tests(BENCH / "testbed.py")  # the check sees an import of tests/
