"""Shared fixtures. Real servers are started by the plugins in tests/services (one module each)."""

pytest_plugins: list[str] = [
    "tests.services.kafka",
    "tests.services.clickhouse",
    "tests.services.s3",
    "tests.services.http_fakes",
    "tests.services.smtp",
    "tests.services.anvil",
    "tests.services.solc",
    "tests.services.prometheus",
    "tests.services.assemblyscript",
    "tests.services.postgres",
]
