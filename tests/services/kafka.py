"""A real Apache Kafka broker for the tests: one KRaft node that is broker and controller at once.

The jars come from Maven Central (``tests/services/install_kafka.sh``, cached in
``~/.cache/scorpius/kafka/<version>/libs``) and run on the machine's Java. ``KafkaServer`` formats
a fresh storage directory (kept by ``restart``), starts the node on free loopback ports and waits
until it answers metadata requests; the session fixture ``kafka_broker`` shares one node between
all tests, so tests name their topics with ``unique_topic`` to stay independent of each other.
``bench/`` scripts use ``KafkaServer`` directly.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from tests.services.ports import free_port, wait_for_port
from tests.services.running import terminate

# Keep in step with the default of install_kafka.sh.
KAFKA_VERSION = os.environ.get("SCORPIUS_KAFKA_VERSION", "4.1.1")
CACHE_ROOT = Path(os.environ.get("SCORPIUS_CACHE", Path.home() / ".cache" / "scorpius"))

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


def kafka_libs() -> Path:
    """The folder of broker jars, or a clear error naming the installer when it is missing."""
    libs = CACHE_ROOT / "kafka" / KAFKA_VERSION / "libs"
    if not (libs.parent / ".complete").exists():
        raise RuntimeError(
            f"Kafka {KAFKA_VERSION} jars are not in {libs}; "
            "run `bash tests/services/install_kafka.sh` (make test does)"
        )
    return libs


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise RuntimeError("no `java` on PATH (Debian: openjdk-17-jre-headless); Kafka needs it")
    return java


def _cluster_id() -> str:
    # What `kafka-storage random-uuid` prints: 16 random bytes, URL-safe base64 without padding,
    # and, as Kafka's own Uuid.randomUuid does, never starting with "-": the storage tool's
    # argument parser reads "-t -Xy..." as a missing value (1 start in 64 failed that way).
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaServer:
    """One Kafka node in KRaft combined mode on 127.0.0.1, in ``workdir`` (started by ``start``)."""

    def __init__(self, workdir: Path, extra_config: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.controller_port = free_port()
        self.log_path = workdir / "server.log"
        self._extra_config = dict(extra_config or {})
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> dict[str, str]:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            # One node: internal topics cannot have more replicas than that.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Topics are made on purpose (`scorpius kafka create-topics`), never by a typo.
            "auto.create.topics.enable": "false",
        }
        props.update(self._extra_config)
        return props

    def start(self, timeout: float = 90.0) -> None:
        libs = kafka_libs()
        java = _java()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self._properties().items()))
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(_LOG4J2.format(log=self.log_path))
        classpath = f"{libs}/*"
        jvm = [java, "-Xms256m", "-Xmx1g", f"-Dlog4j2.configurationFile={log4j}"]
        jvm += ["-Djava.awt.headless=true", "-cp", classpath]
        storage = [
            *jvm,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _cluster_id(),
            "-c",
            str(config),
        ]
        # A restart (same workdir) keeps the storage formatted the first time, and its data.
        if not (self.workdir / "data" / "meta.properties").exists():
            formatted = subprocess.run(storage, capture_output=True, text=True, timeout=120)
            if formatted.returncode != 0:
                raise RuntimeError(
                    f"kafka storage format failed: {formatted.stderr or formatted.stdout}"
                )
        with (self.workdir / "stdout.log").open("wb") as out:
            self._process = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(self.port, timeout=timeout)
            self._wait_until_serving(timeout)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"Kafka did not start: {exc}\n{self.log_tail()}") from exc

    def _wait_until_serving(self, timeout: float) -> None:
        # The port opens before the node has registered itself with its own controller; until
        # then metadata requests list no brokers and topic creation fails.
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"the broker exited with code {self._process.returncode}")
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except KafkaException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"no broker registered within {timeout:.0f}s")

    def log_tail(self, lines: int = 40) -> str:
        texts = []
        for path in (self.workdir / "stdout.log", self.log_path):
            if path.exists():
                texts.append("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(texts)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        terminate(process, timeout=30)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (SIGTERM, a broker's clean shutdown), stay down ``down_s``, start again on the
        same ports with the same data: a broker restart as clients see it."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> KafkaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(
        self, name: str, partitions: int = 4, config: Mapping[str, str] | None = None
    ) -> str:
        return create_topic(self.bootstrap, name, partitions, config)


def unique_topic(prefix: str) -> str:
    """A topic name no other test uses (the broker lives for the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# What each ``SCORPIUS_KAFKA_TOPIC_<NAME>`` setting's topic is called under a test's prefix.
TOPIC_SUFFIXES = {
    "RAW": "tx_raw",
    "ENRICHED": "tx_enriched",
    "BUNDLES": "mev_bundles",
    "ALERTS": "alerts",
    "DEAD_LETTERS": "dead_letters",
    "RULES": "rules",
    "ALERT_DELIVERIES": "alert_deliveries",
}


def topic_settings(prefix: str, *names: str) -> dict[str, str]:
    """The ``SCORPIUS_KAFKA_TOPIC_<NAME>`` settings of ``names``, each a topic under ``prefix``."""
    return {f"SCORPIUS_KAFKA_TOPIC_{name}": f"{prefix}.{TOPIC_SUFFIXES[name]}" for name in names}


def create_topic(
    bootstrap: str, name: str, partitions: int = 4, config: Mapping[str, str] | None = None
) -> str:
    """Create ``name`` with ``partitions`` partitions and wait until the broker has it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(
        name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
    )
    for future in admin.create_topics([topic], operation_timeout=30).values():
        future.result(timeout=60)
    return name


def read_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> list[Message]:
    """Every message now in ``topic``, read from the start of each partition to its end."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "scorpius-tests-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # Only what producers have committed; identical to all when none use transactions.
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending = set(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(pending)} did not reach their end")
            for msg in consumer.consume(10_000, 0.5):
                error = msg.error()
                if error is None:
                    messages.append(msg)
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                else:
                    raise KafkaException(error)
        return messages
    finally:
        consumer.close()


def _where(msg: Message) -> str:
    return f"{msg.topic()}/{msg.partition()}@{msg.offset()}"


def message_value(msg: Message) -> bytes:
    """The value of a message the test expects to carry one (not a null / tombstone)."""
    value = msg.value()
    assert value is not None, f"{_where(msg)} has no value"
    return value


def message_key(msg: Message) -> bytes:
    """The key of a message the test expects to be keyed."""
    key = msg.key()
    assert key is not None, f"{_where(msg)} has no key"
    return key


def producer_headers(headers: Iterable[tuple[str, bytes]]) -> list[tuple[str, str | bytes | None]]:
    """``headers`` as ``Producer.produce`` types them: its list is invariant in the value type,
    so a ``list[tuple[str, bytes]]`` (bytewax's ``KafkaSinkMessage.headers``) does not fit as is."""
    return list(headers)


def running_broker(data_dir: Path) -> Iterator[KafkaServer]:
    """A Kafka node in ``data_dir`` for a fixture to yield: a start failure fails the test with
    the broker's reason, and the node is stopped when the fixture ends."""
    try:
        server = KafkaServer(data_dir)
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    """A running Kafka node for the whole test session (stopped at its end)."""
    yield from running_broker(tmp_path_factory.mktemp("kafka"))


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaServer) -> str:
    """``host:port`` of the session's Kafka node."""
    return kafka_broker.bootstrap
