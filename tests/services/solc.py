"""The Solidity compiler from npm ``solc`` (solcjs, see install_solc.sh), run through node.

``solc_compile`` is a session fixture: ``compile(path) -> {contract name: Compiled}`` with the
ABI and creation bytecode of every contract in one Solidity file (standard JSON in, standard
JSON out). Compiling happens in the test session, so no build artefacts are committed. If node
or the package is missing the fixture fails (not skips) and names the installer.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SOLC_PACKAGE = Path.home() / ".cache/scorpius/node/node_modules/solc"
# Reads the standard-JSON input on stdin, writes the standard-JSON output.
_RUN = (
    "const solc = require(process.argv[1]);"
    "const input = require('fs').readFileSync(0, 'utf8');"
    "process.stdout.write(solc.compile(input));"
)


@dataclass(frozen=True)
class Compiled:
    abi: list[dict[str, Any]]
    bytecode: bytes  # creation code


Compile = Callable[[Path], dict[str, Compiled]]


def compile_file(path: Path) -> dict[str, Compiled]:
    return compile_sources({path.name: path.read_text()})[path.name]


def compile_sources(
    sources: dict[str, str],
    package: Path = SOLC_PACKAGE,
    units: Iterable[str] = ("*",),
    *,
    via_ir: bool = False,
) -> dict[str, dict[str, Compiled]]:
    """Every contract of ``sources`` (unit name -> Solidity text; imports resolve between the
    units), per unit, with the solcjs of ``package`` (another pinned version than the default
    where a protocol's pragma asks for one); only those of ``units`` when named (a large code
    base compiles faster without bytecode for every library and base contract); ``via_ir`` where
    the project builds that way (its code is too deep for the legacy pipeline)."""
    wanted = ["abi", "evm.bytecode.object"]
    settings: dict[str, Any] = {
        "optimizer": {"enabled": True, "runs": 200},
        "outputSelection": {unit: {"*": wanted} for unit in units},
    }
    if via_ir:  # only then: compilers older than the IR pipeline reject the key
        settings["viaIR"] = True
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": settings,
    }
    done = subprocess.run(
        ["node", "-e", _RUN, str(package)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError("solc: " + "\n".join(e["formattedMessage"] for e in errors))
    return {
        unit: {
            name: Compiled(item["abi"], bytes.fromhex(item["evm"]["bytecode"]["object"]))
            for name, item in contracts.items()
        }
        for unit, contracts in output["contracts"].items()
    }


_IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]*\s+from\s+)?["']([^"']+)["']""", re.MULTILINE)


def import_closure(entries: Iterable[str], locate: Callable[[str], Path]) -> dict[str, str]:
    """The sources ``entries`` need (unit name -> text), following their imports; ``locate``
    maps a unit name (``@scope/package/...``, or a remapped prefix) to its file."""
    sources: dict[str, str] = {}
    pending = list(entries)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        sources[unit] = text = locate(unit).read_text()
        for name in _IMPORT.findall(text):
            if name.startswith("."):
                name = posixpath.normpath(posixpath.join(posixpath.dirname(unit), name))
            pending.append(name)
    return sources


@pytest.fixture(scope="session")
def solc_compile() -> Compile:
    if shutil.which("node") is None or not (SOLC_PACKAGE / "package.json").is_file():
        pytest.fail(
            f"solc is not installed at {SOLC_PACKAGE} (or node is missing): run "
            "tests/services/install_solc.sh (npm install solc into ~/.cache/scorpius/node)"
        )
    return compile_file
