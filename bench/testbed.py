"""What the benchmarks borrow from the test set-up: the real servers tests/services starts on
free loopback ports, and the recorded workloads and builders the tests feed the code.

A benchmark measures the same parts the tests check, started the same way, so it reuses them
rather than keeping a copy. This is the one module of bench/ that imports tests/
(tests/bench/test_testbed.py holds it so).
"""

from __future__ import annotations

from tests.connectors import l2_frames
from tests.connectors.kafka_workload import make_workload, produce
from tests.operators import rules_wat
from tests.operators.mev.pending import replayed
from tests.services.anvil import DEV_KEYS, AnvilNode, anvil_binary
from tests.services.clickhouse import ClickHouseServer
from tests.services.kafka import KafkaServer, create_topic, read_topic, unique_topic
from tests.services.ports import free_port, wait_for_port
from tests.services.running import running
from tests.services.solc import compile_file
from tests.waiting import wait_until
from tests.web.conftest import CHROMIUM, CHROMIUM_FLAGS, build_console, start_serve, stop_serve

# The tests' Kafka workload dataflow, for `python -m bytewax.run`.
KAFKA_WORKLOAD_FLOW = "tests.connectors.kafka_workload:flow"

__all__ = [
    "CHROMIUM",
    "CHROMIUM_FLAGS",
    "DEV_KEYS",
    "KAFKA_WORKLOAD_FLOW",
    "AnvilNode",
    "ClickHouseServer",
    "KafkaServer",
    "anvil_binary",
    "build_console",
    "compile_file",
    "create_topic",
    "free_port",
    "l2_frames",
    "make_workload",
    "produce",
    "read_topic",
    "replayed",
    "rules_wat",
    "running",
    "start_serve",
    "stop_serve",
    "unique_topic",
    "wait_for_port",
    "wait_until",
]
