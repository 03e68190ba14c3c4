"""``scorpius serve``: the API (REST, WebSocket and SSE streams) on uvicorn (docs/api.md).

    scorpius serve                      the API, streams from SCORPIUS_API_FEED (embedded|kafka|none)
    scorpius serve --flow [--rate N]    embedded: the flow (paced replay) and the API together

With ``--flow`` the flow runs as a child process writing the output folder (plus
``tx_enriched.jsonl``), and the API tails it. Its rules folder, unless SCORPIUS_RULES_DIR is set,
is ``<output>/rules``, seeded from the bundled examples, so rules published through the API reach
the running flow without touching the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from flows.commands import add_command
from flows.config import EXAMPLE_RULES, load_config

DEFAULT_FLOW_RATE = 200.0


HELP = """run the API (REST + live streams); --flow also runs the flow (embedded)

Serve the Scorpius API. Settings: SCORPIUS_API_* (see `scorpius config`).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "serve", HELP)
    parser.add_argument("--host", help="listen address (SCORPIUS_API_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (SCORPIUS_API_PORT, default 8000)")
    parser.add_argument(
        "--flow", action="store_true", help="also run the flow on the configured source (embedded)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        help=f"with --flow: replay items per second (default {DEFAULT_FLOW_RATE:g} unless "
        "SCORPIUS_SOURCE_REPLAY_RATE or _SPEED is set)",
    )
    parser.add_argument("--speed", type=float, help="with --flow: replay speed factor")
    parser.add_argument("-o", "--out", help="output folder (SCORPIUS_OUTPUT_DIR)")
    parser.set_defaults(func=serve)


def _flow_env(args: argparse.Namespace, out: str, rules_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SCORPIUS_OUTPUT_DIR"] = out
    env["SCORPIUS_OUTPUT_TX_LINES"] = "true"
    env["SCORPIUS_OUTPUT_CONSOLE"] = "false"
    env["SCORPIUS_RULES_DIR"] = rules_dir
    if args.speed is not None:
        env["SCORPIUS_SOURCE_REPLAY_SPEED"] = str(args.speed)
    if args.rate is not None:
        env["SCORPIUS_SOURCE_REPLAY_RATE"] = str(args.rate)
    elif not (env.get("SCORPIUS_SOURCE_REPLAY_RATE") or env.get("SCORPIUS_SOURCE_REPLAY_SPEED")):
        env["SCORPIUS_SOURCE_REPLAY_RATE"] = str(DEFAULT_FLOW_RATE)
    return env


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from connectors.api.app import uvicorn_options
    from flows.wiring.api import build_app
    from flows.wiring.memory import start_memory_care

    cfg = load_config(os.environ)
    if args.out:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, dir=args.out))
    # Rules published through the API go to this folder (embedded): never into the bundled
    # examples, so by default a copy of them in the output folder.
    rules_dir = os.environ.get("SCORPIUS_RULES_DIR") or str(Path(cfg.output.dir) / "rules")
    if not os.environ.get("SCORPIUS_RULES_DIR") and not Path(rules_dir).exists():
        shutil.copytree(EXAMPLE_RULES, rules_dir)
    cfg = dataclasses.replace(cfg, rules=dataclasses.replace(cfg.rules, dir=rules_dir))
    flow: subprocess.Popen[bytes] | None = None
    if args.flow:
        cfg = dataclasses.replace(cfg, api=dataclasses.replace(cfg.api, feed="embedded"))
        Path(cfg.output.dir).mkdir(parents=True, exist_ok=True)
        flow = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--quiet"],
            env=_flow_env(args, cfg.output.dir, rules_dir),
        )
    app = build_app(cfg)
    memory = start_memory_care(cfg.memory)
    try:
        uvicorn.run(
            app,
            host=args.host or cfg.api.host,
            port=args.port or cfg.api.port,
            log_level="info",
            **uvicorn_options(cfg.api.max_frame_bytes, cfg.api.ws_deflate),
        )
    finally:
        memory.stop()
        if flow is not None and flow.poll() is None:
            flow.send_signal(signal.SIGINT)
            try:
                flow.wait(timeout=10)
            except subprocess.TimeoutExpired:
                flow.kill()
    return 0
