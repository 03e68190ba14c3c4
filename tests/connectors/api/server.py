"""A real uvicorn server on a free loopback port, serving the API app of a given configuration."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import connect

from connectors.api.app import uvicorn_options
from connectors.api.context import ApiContext
from flows.config import load_config
from flows.wiring.api import build_app
from tests.services.ports import free_port


@dataclass
class RunningApi:
    url: str
    ws: str
    out: Path
    ctx: ApiContext

    def key(self, role: str, rate_per_s: float = 1000.0, burst: int = 1000) -> str:
        return self.ctx.keys.create(f"test-{role}", role, rate_per_s, burst).key

    def append(self, name: str, lines: list[str]) -> None:
        """What the flow does: append JSON lines to an output file the embedded feed tails."""
        with (self.out / name).open("a") as f:
            f.writelines(line + "\n" for line in lines)


@contextmanager
def running_api(out: Path, env: Mapping[str, str] | None = None) -> Iterator[RunningApi]:
    environ = {
        "SCORPIUS_OUTPUT_DIR": str(out),
        "SCORPIUS_RULES_DIR": str(out / "rules"),
        "SCORPIUS_RULES_CACHE_DIR": "",
        "SCORPIUS_API_CONSOLE_DIR": "",
        **(env or {}),
    }
    cfg = load_config(environ)
    out.mkdir(parents=True, exist_ok=True)
    app = build_app(cfg)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            **uvicorn_options(cfg.api.max_frame_bytes, cfg.api.ws_deflate),
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    ctx: ApiContext = app.state.ctx
    try:
        yield RunningApi(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", out, ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def upload_and_see_a_match(
    ws: str, url: str, key: str, name: str, source: str, rule_id: str
) -> float:
    """PUT a rule through the API with a stream client waiting for its matches (``ws``, ``url``:
    the API's WebSocket and HTTP bases); seconds until the first one arrived (at most 5)."""
    async with connect(f"{ws}/ws/alerts?api_key={key}&rule_id={rule_id}") as alerts:
        assert json.loads(await alerts.recv())["type"] == "hello"
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as c:
            answer = await c.put(f"/api/v1/rules/{name}", json={"source": source}, timeout=30)
            assert answer.status_code == 200, answer.text
            published = time.monotonic()
        message = json.loads(await asyncio.wait_for(alerts.recv(), 5.0))
        took = time.monotonic() - published
        assert message["type"] == "alert"
        assert message["data"]["origin"] == f"rule:{rule_id}"
        return took


def no_leak(text: str, *secrets: str) -> None:
    """Nothing of a stack trace and none of ``secrets`` in a response or a log."""
    assert "Traceback" not in text
    assert 'File "' not in text
    for secret in secrets:
        assert secret not in text


Json = dict[str, Any]
