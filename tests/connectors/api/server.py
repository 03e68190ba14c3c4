"""A real uvicorn server on a free loopback port, serving the API app of a given configuration."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
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
from tests.services.http_fakes import FakeApis, Recorded
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
def cli_process(args: list[str], env: Mapping[str, str], log_path: Path) -> Iterator[list[str]]:
    """``scorpius <args>`` as a child process for the block; the yielded list gets its output
    (stdout and stderr) once it has been stopped."""
    output: list[str] = []
    with log_path.open("w+") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield output
        finally:
            child.terminate()
            child.wait(timeout=30)
            log.seek(0)
            output.append(log.read())


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


ROUTED_RULE_ID = "api-routed-swap"
ROUTED_RULE = f"""
rules:
  - id: {ROUTED_RULE_ID}
    severity: high
    message: "routed swap by {{sender}}"
    when:
      - kind == swap
"""


def flow_alert_env(hooks: FakeApis, path: str) -> dict[str, str]:
    """A webhook channel to ``hooks`` fast enough that queued deliveries drain within a second."""
    return {
        "SCORPIUS_ALERTS_WEBHOOK_URL": f"{hooks.url}{path}",
        "SCORPIUS_ALERTS_CHANNEL_RATE_PER_S": "1000",
        "SCORPIUS_ALERTS_CHANNEL_BURST": "1000",
        "SCORPIUS_ALERTS_RECIPIENT_RATE_PER_S": "1000",
        "SCORPIUS_ALERTS_RECIPIENT_BURST": "1000",
    }


async def routes_take_effect(
    ws: str, url: str, key: str, hooks: FakeApis, path: str, rule_id: str
) -> tuple[float, float, str]:
    """With a running flow matching ``rule_id`` and a webhook channel posting to ``hooks`` under
    ``path``: an empty routes document sends nothing; a route created through the API sends that
    rule's alerts to the webhook; deleting it stops them again. Seconds from each change to its
    effect (first delivery after the create, last delivery after the delete), and the key of the
    first alert the route delivered."""
    seen: list[float] = []

    def routed(name: str) -> list[Recorded]:
        return [r for r in hooks.received(path) if r.json()["route"] == name]

    async def alerts_flowing(n: int) -> None:
        wanted = len(seen) + n
        while len(seen) < wanted:
            await asyncio.sleep(0.05)

    async with connect(f"{ws}/ws/alerts?api_key={key}&rule_id={rule_id}") as stream:
        assert json.loads(await stream.recv())["type"] == "hello"

        async def count() -> None:
            while True:
                if json.loads(await stream.recv())["type"] == "alert":
                    seen.append(time.monotonic())

        counter = asyncio.create_task(count())
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=30) as c:
            answer = await c.put("/api/v1/routes", json={"routes": []})
            assert answer.status_code == 200, answer.text
            await asyncio.wait_for(alerts_flowing(1), 120)  # the flow runs and the rule matches
            await asyncio.sleep(3)  # longer than a reload: the empty routes are in effect
            before = len(hooks.received(path))
            await asyncio.wait_for(alerts_flowing(3), 30)
            assert len(hooks.received(path)) == before, "delivered without a route"

            created = time.monotonic()
            route = {"when": {"origins": [f"rule:{rule_id}"]}, "send": ["webhook"]}
            answer = await c.put("/api/v1/routes/to-hook", json=route)
            assert answer.status_code == 200, answer.text
            while not routed("to-hook"):
                assert time.monotonic() - created < 10, "the new route sent nothing"
                await asyncio.sleep(0.05)
            took_effect = routed("to-hook")[0].at - created
            first = routed("to-hook")[0].json()["alert"]
            assert first["origin"] == f"rule:{rule_id}"

            deleted = time.monotonic()
            assert (await c.delete("/api/v1/routes/to-hook")).status_code == 204
            assert (await c.get("/api/v1/routes")).json() == {"routes": []}
            await asyncio.sleep(5)
            after = len(routed("to-hook"))
            await asyncio.wait_for(alerts_flowing(3), 30)
            assert len(routed("to-hook")) == after, "still delivered after the route was deleted"
            stopped = routed("to-hook")[-1].at - deleted
        counter.cancel()
    # The figures docs/api.md quotes (pytest -s shows them).
    print(f"routes: created → first delivery {took_effect:.2f} s; deleted → last {stopped:.2f} s")
    return took_effect, stopped, first["key"]


def no_leak(text: str, *secrets: str) -> None:
    """Nothing of a stack trace and none of ``secrets`` in a response or a log."""
    assert "Traceback" not in text
    assert 'File "' not in text
    for secret in secrets:
        assert secret not in text


Json = dict[str, Any]
