"""The embedded default end to end, through the documented commands: ``scorpius api-keys create``
then ``scorpius serve --flow`` (the flow on the paced bundled sample, and the API on uvicorn, as
two processes). Streams move, and a rule published through the API matches in the running flow
within 5 s. The server's log carries no key."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.connectors.api.server import no_leak, upload_and_see_a_match
from tests.services.ports import free_port, wait_for_port

pytestmark = [pytest.mark.service, pytest.mark.slow]

LIVE_RULE = """
rules:
  - id: api-live-swap
    severity: high
    message: "live swap by {sender}"
    when:
      - kind == swap
"""


def _env(out: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORPIUS_")}
    env.update(
        SCORPIUS_OUTPUT_DIR=str(out),
        SCORPIUS_RULES_CACHE_DIR="",
    )
    return env


def test_serve_flow_streams_move_and_an_uploaded_rule_matches_within_5s(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = _env(out)
    created = subprocess.run(
        [sys.executable, "-m", "flows.cli", "api-keys", "create", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip()
    assert key.startswith("sk_") and key not in created.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "serve",
            "--flow",
            "--rate",
            "300",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=120)
        asyncio.run(_scenario(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}", key))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.seek(0)
        text = log.read()
    no_leak(text, key)
    assert "api_key=***" in text  # uvicorn logged the handshakes, masked


async def _scenario(ws_url: str, url: str, key: str) -> None:
    async with connect(f"{ws_url}/ws/transactions?api_key={key}") as txs:
        got: list[dict[str, Any]] = []
        while len(got) < 20:
            message = json.loads(await asyncio.wait_for(txs.recv(), 60))
            if message["type"] == "tx":
                got.append(message)
        cursors = [m["cursor"] for m in got]
        assert cursors == sorted(cursors)
        assert {m["data"]["tx"]["hash"] for m in got} == {m["key"] for m in got}

    took = await upload_and_see_a_match(ws_url, url, key, "live", LIVE_RULE, "api-live-swap")
    assert took <= 5.0

    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as c:
        health = (await c.get("/health")).json()
        assert health["feed"] == "embedded" and health["feed_ok"] is True
