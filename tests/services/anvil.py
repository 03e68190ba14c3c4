"""Real Anvil nodes (npm ``@foundry-rs/anvil``, see install_anvil.sh) for the RPC source tests.

``anvil`` is one session-wide node; ``anvil_nodes`` starts more for one test (another chain
id, a second URL of one chain, a node to kill) and stops them when the test ends. Nodes run
``--no-mining`` so sent transactions stay pending until a test mines. ``AnvilNode.restart()``
brings a node back on the same port (with a fresh chain: Anvil keeps no state across runs).
If the binary is missing the fixtures fail (not skip) and name the installer.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.services.ports import free_port, wait_for_port
from tests.services.running import terminate

# The well-known keys of Anvil's default dev accounts (mnemonic "test test ... junk").
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
)

_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "arm64"): "darwin-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
}


def anvil_binary() -> Path:
    if "SCORPIUS_ANVIL_BIN" in os.environ:
        return Path(os.environ["SCORPIUS_ANVIL_BIN"])
    target = _PLATFORMS.get((platform.system(), platform.machine()), "linux-amd64")
    return (
        Path.home() / ".cache/scorpius/node/node_modules/@foundry-rs" / f"anvil-{target}/bin/anvil"
    )


class AnvilNode:
    def __init__(
        self,
        binary: Path,
        chain_id: int,
        port: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.chain_id = chain_id
        self.extra_args = tuple(extra_args)
        self.port = port or free_port()
        self.log_path = Path(tempfile.gettempdir()) / f"scorpius-anvil-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._ids = 0

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self._process = subprocess.Popen(
                [
                    str(self.binary),
                    "--no-mining",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--chain-id",
                    str(self.chain_id),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"anvil did not start on port {self.port}:\n{tail}") from None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            terminate(self._process, timeout=10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def rpc(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": self._ids,
            "method": method,
            "params": list(params),
        }
        reply = requests.post(self.http_url, json=body, timeout=30).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


StartAnvil = Callable[..., AnvilNode]


@pytest.fixture(scope="session")
def anvil_path() -> Path:
    binary = anvil_binary()
    if not binary.is_file():
        pytest.fail(
            f"Anvil is not installed at {binary}: run tests/services/install_anvil.sh "
            "(npm install @foundry-rs/anvil into ~/.cache/scorpius/node)"
        )
    return binary


@pytest.fixture
def anvil_nodes(anvil_path: Path) -> Iterator[StartAnvil]:
    """Starts extra Anvil nodes on demand, ``start(chain_id=31337, extra_args=())``; they stop
    after the test."""
    started: list[AnvilNode] = []

    def start(chain_id: int = 31337, extra_args: Sequence[str] = ()) -> AnvilNode:
        node = AnvilNode(anvil_path, chain_id, extra_args=extra_args)
        started.append(node)
        node.start()
        return node

    yield start
    for node in started:
        node.close()


@pytest.fixture(scope="session")
def anvil(anvil_path: Path) -> Iterator[AnvilNode]:
    """The session's default node: chain id 31337, not mining."""
    node = AnvilNode(anvil_path, 31337)
    node.start()
    yield node
    node.close()
