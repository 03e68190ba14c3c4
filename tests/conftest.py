"""Shared fixtures. Real servers are started by the plugins in tests/services (one module each)."""

pytest_plugins: list[str] = ["tests.services.assemblyscript"]
