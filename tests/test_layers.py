"""The import layers: ``operators/`` is pure logic (no bytewax, no connectors, no flows), and
``connectors/`` never reaches up into ``flows/``. Every import counts, including ones inside
functions and under ``TYPE_CHECKING``: each is an arrow between the folders."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Connectors that still import flows (flows.config types or ConfigError), as of this commit.
# Issue #17's config work gives them plain settings; each file leaves this set as it is fixed, and
# the set must end empty. A file not listed here may never start importing flows.


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every absolute import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def offenders(folder: str, forbidden: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        bad = imported_packages(path) & forbidden
        if bad:
            out[path.relative_to(ROOT).as_posix()] = bad
    return out


def test_the_layer_check_sees_imports_anywhere_in_a_module(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from flows.config import Config\n"
        "def f():\n    import bytewax.operators as op\n"
        "from . import sibling\n"
    )
    assert imported_packages(module) == {"typing", "flows", "bytewax"}


def test_operators_import_no_bytewax_connectors_or_flows() -> None:
    assert offenders("operators", {"bytewax", "connectors", "flows"}) == {}


def test_connectors_do_not_import_flows() -> None:
    found = offenders("connectors", {"flows"})
    assert not found, sorted(found)
