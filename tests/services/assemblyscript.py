"""The AssemblyScript compiler for rule-SDK tests (installed by install_assemblyscript.sh)."""

from __future__ import annotations

import pytest

from flows.commands.rules import find_asc


@pytest.fixture(scope="session")
def asc() -> str:
    try:
        return find_asc()
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (CI runs tests/services/install.sh first)")
