"""A real ClickHouse server for the tests: Debian's ``clickhouse-server`` as a child process.

It gets its own config in a temp folder: free tcp/http ports on 127.0.0.1 only, its own data path,
no interserver port. ``clickhouse_server`` runs for the session and can be stopped and started
again mid-test (same ports, same data) for the outage test; ``clickhouse_db`` gives each test a
fresh database.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services.ports import free_port, wait_for_port
from tests.services.running import running, terminate

_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{root}/log/server.log</log>
    <errorlog>{root}/log/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <user_files_path>{root}/user_files/</user_files_path>
  <format_schema_path>{root}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <max_concurrent_queries>20</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
"""


def _server_command(config: Path) -> list[str]:
    binary = shutil.which("clickhouse-server") or (
        "/usr/sbin/clickhouse-server" if Path("/usr/sbin/clickhouse-server").exists() else None
    )
    if binary:
        return [binary, f"--config-file={config}"]
    single = shutil.which("clickhouse")  # newer releases ship one binary
    if single:
        return [single, "server", f"--config-file={config}"]
    pytest.fail(
        "clickhouse-server is not installed: run tests/services/install_clickhouse.sh "
        "(apt-get install clickhouse-server clickhouse-client)"
    )


@dataclass
class ClickHouseServer:
    root: Path
    tcp_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "default") -> str:
        return f"clickhouse://127.0.0.1:{self.tcp_port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        for sub in ("log", "data", "tmp", "user_files", "format_schemas"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        config = self.root / "config.xml"
        config.write_text(
            _CONFIG.format(root=self.root, tcp_port=self.tcp_port, http_port=self.http_port)
        )
        (self.root / "users.xml").write_text(_USERS)
        log = (self.root / "log" / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            _server_command(config), cwd=self.root, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(self.tcp_port, timeout=timeout)
            self._wait_ready(timeout)
        except Exception:
            self.stop()
            errors = self.root / "log" / "error.log"
            detail = errors.read_text()[-2000:] if errors.exists() else ""
            raise RuntimeError(f"clickhouse-server did not start:\n{detail}") from None

    def _wait_ready(self, timeout: float) -> None:
        from clickhouse_driver import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                Client("127.0.0.1", port=self.tcp_port, connect_timeout=2).execute("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline or (
                    self.process and self.process.poll() is not None
                ):
                    raise
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown (``start`` brings it back on the same data)."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        terminate(self.process, timeout=30)
        self.process = None


@dataclass(frozen=True)
class ClickHouseDatabase:
    server: ClickHouseServer
    name: str

    @property
    def url(self) -> str:
        return self.server.url(self.name)


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    with running(ClickHouseServer(tmp_path_factory.mktemp("clickhouse"))) as server:
        yield server


@pytest.fixture
def clickhouse_db(clickhouse_server: ClickHouseServer) -> Iterator[ClickHouseDatabase]:
    from clickhouse_driver import Client

    if clickhouse_server.process is None:  # a previous test's outage left it stopped
        clickhouse_server.start()
    name = f"test_{uuid.uuid4().hex[:12]}"
    Client("127.0.0.1", port=clickhouse_server.tcp_port).execute(f"CREATE DATABASE {name}")
    yield ClickHouseDatabase(clickhouse_server, name)
    if clickhouse_server.process is not None:
        Client("127.0.0.1", port=clickhouse_server.tcp_port).execute(f"DROP DATABASE {name}")
