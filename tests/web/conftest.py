"""Fixtures of the web console's browser tests.

* ``console_dist``: web/dist built from web/ (``npm ci`` + ``npm run build``) once per session, only
  when a source is newer than the build, as the README's ``make console`` does.
* ``served``: a real ``scorpius serve --flow`` (a child process, as a user runs it) replaying the
  bundled sample, paced, on a free loopback port, with an admin, an analyst and a viewer key made by
  ``scorpius api-keys create``.
* ``browser``: Debian's chromium, headless, through Playwright's Python API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.services.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DIST = WEB / "dist"
SCREENSHOTS = ROOT / "docs" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Paced so the flow is still replaying while the tests run (the sample is ~9,300 items).
FLOW_RATE = 40


def _newest(paths: list[Path]) -> float:
    times = [
        p.stat().st_mtime for base in paths for p in (base.rglob("*") if base.is_dir() else [base])
    ]
    return max(times, default=0.0)


def build_console() -> Path:
    """web/dist, rebuilt when a source (or the label files it bundles) is newer than it."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is required to build the web console (apt-get install nodejs npm)")
    sources = [
        WEB / "src",
        WEB / "index.html",
        WEB / "package.json",
        WEB / "package-lock.json",
        WEB / "vite.config.ts",
        ROOT / "operators" / "enrich" / "data" / "labels",
    ]
    index = DIST / "index.html"
    if index.is_file() and index.stat().st_mtime >= _newest(sources):
        return DIST
    modules = WEB / "node_modules"
    if (
        not modules.is_dir()
        or modules.stat().st_mtime < (WEB / "package-lock.json").stat().st_mtime
    ):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    return DIST


@pytest.fixture(scope="session")
def console_dist() -> Path:
    return build_console()


@dataclass
class Served:
    url: str
    out: Path
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def alerts(self) -> list[dict[str, Any]]:
        """What the flow has emitted so far (its alerts output)."""
        path = self.out / "alerts.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _env(out: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SCORPIUS_OUTPUT_DIR": str(out),
            "SCORPIUS_API_PORT": str(port),
            "SCORPIUS_API_CONSOLE_DIR": str(DIST),
            "SCORPIUS_RULES_CACHE_DIR": "",
            # A live rehearsal: replayed items are stamped with the wall time they are replayed at.
            "SCORPIUS_SOURCE_REPLAY_REBASE": "true",
            # The Tx page and the MEV stats read the archive: roll its files every few seconds.
            "SCORPIUS_OUTPUT_ARCHIVE_ROLL_SECONDS": "5",
        }
    )
    env.pop("SCORPIUS_RULES_DIR", None)
    return env


def create_key(env: dict[str, str], role: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "api-keys",
            "create",
            "--role",
            role,
            "--name",
            f"web-{role}",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"\bsk_\S+", done.stdout)
    assert found, f"no key printed: {done.stdout!r} {done.stderr!r}"
    return found.group(0)


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scorpius serve exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"scorpius serve did not answer /health: {log.read_text()[-3000:]}")


def start_serve(out: Path, args: list[str]) -> Served:
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = _env(out, port)
    keys = {role: create_key(env, role) for role in ("admin", "analyst", "viewer")}
    log = out / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "--port", str(port), *args],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
    except BaseException:
        stop_serve(process)
        raise
    return Served(url, out, keys, process, log)


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # SIGINT: uvicorn shuts down and stops its flow child (flows/commands/serve.py).
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def served(console_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    instance = start_serve(
        tmp_path_factory.mktemp("console-serve"), ["--flow", "--rate", str(FLOW_RATE)]
    )
    try:
        yield instance
    finally:
        stop_serve(instance.process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: bash tests/services/install_chromium.sh")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()
