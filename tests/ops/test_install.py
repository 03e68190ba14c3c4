"""A new user's install (issue 16): the prerequisites README lists are the ones the installers
need, every step of `make` says what it is doing, and README fits a screen with working links."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "tests" / "services"
README = ROOT / "README.md"

# a tool an installer calls -> how README's prerequisites name it
TOOLS = {
    r"\bgo install\b": "Go",
    r"\bmvn\b": "Maven",
    r"\bopenjdk-17|\bjava\b": "Java 17",
    r"\bnpm\b": "npm",
    r"\bnode\b": "Node.js",
    r"\bapt-get\b": "apt-get",
}


def prerequisites() -> str:
    text = README.read_text()
    start = text.index("Prerequisites:")
    return text[start : text.index("\n\n", start)]


def test_readme_names_every_tool_the_installers_call() -> None:
    listed = prerequisites()
    needed: dict[str, list[str]] = {}
    for script in sorted(SERVICES.glob("*.sh")):
        for pattern, name in TOOLS.items():
            if re.search(pattern, script.read_text()):
                needed.setdefault(name, []).append(script.name)
    assert "Go" in needed  # install_kustomize.sh builds kustomize with `go install`
    missing = {name: scripts for name, scripts in needed.items() if name not in listed}
    assert not missing, f"README's prerequisites omit {missing}"
    assert "Python 3.11 or 3.12" in listed


def test_kustomize_without_go_stops_with_one_clear_line(tmp_path: Path) -> None:
    # PATH without Go: only the folders of bash and the coreutils the script uses
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "mkdir", "dirname"):
        found = shutil.which(tool)
        assert found
        (tools / tool).symlink_to(found)
    result = subprocess.run(
        [str(tools / "bash"), str(SERVICES / "install_kustomize.sh")],
        env={"PATH": str(tools), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "install_kustomize.sh: Go 1.22.7 or newer is required (https://go.dev/doc/install), "
        "then run make test again"
    ]


def test_services_print_a_line_per_installer() -> None:
    result = subprocess.run(
        ["bash", str(SERVICES / "install.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    installers = sorted(p.stem.removeprefix("install_") for p in SERVICES.glob("install_*.sh"))
    steps = re.findall(r"^services (\d+)/(\d+): (\S+)$", result.stdout, re.M)
    assert [name for *_, name in steps] == installers
    assert all(total == str(len(installers)) for _, total, _ in steps)


def test_every_make_step_says_what_it_does_first() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        [make, "--no-print-directory", "-n", "-B", "run", "test", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    echoes = [line for line in lines if line.startswith("echo ")]
    for step in ("setup 1/3", "setup 3/3", "lint 1/3", "lint 3/3", "test: pytest", "run: "):
        assert any(step in line for line in echoes), step
    # every command that works (pip, the flow, the linters, pytest, the installers) has its line
    for i, line in enumerate(lines):
        if line.startswith("echo ") or line.startswith("touch ") or line.startswith("[ -n"):
            continue
        assert i > 0 and (lines[i - 1].startswith("echo ") or "install.sh" in line), line


def test_readme_first_screen_holds_what_the_two_commands_and_links() -> None:
    # The first screen (60 lines) holds what it is, the two commands and the links; below it,
    # README may carry a short table of measured figures, no more.
    lines = README.read_text().splitlines()
    assert len(lines) <= 100, f"README has {len(lines)} lines"
    lines = lines[:60]
    text = "\n".join(lines)
    assert "make run" in text and "make test" in text
    assert "mempool monitor and MEV detector" in " ".join(lines[:6])
    assert len(re.findall(r"\]\(docs/[\w-]+\.md\)", text)) >= 10


def test_every_relative_link_of_readme_and_docs_resolves() -> None:
    broken = []
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"https?:", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, broken


@pytest.mark.slow
def test_the_editable_install_prints_no_warning_block() -> None:
    pip = ROOT / ".venv" / "bin" / "pip"
    if not pip.exists():
        pytest.skip("no .venv (make setup creates it)")
    result = subprocess.run(
        [str(pip), "install", "--quiet", "--no-deps", "-e", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    output = result.stdout + result.stderr
    assert "Warning" not in output and "!!" not in output, output
