"""Fixtures of the API tests: the flow's real output on the bundled sample, and a served API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from bytewax.testing import run_main

from flows.config import load_config
from flows.mempool import build_flow
from tests.connectors.api.server import RunningApi, running_api


@pytest.fixture(scope="session")
def sample_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flow's outputs and Parquet archive for the bundled sample (one run per session)."""
    out = tmp_path_factory.mktemp("api-sample")
    cfg = load_config({"SCORPIUS_OUTPUT_DIR": str(out), "SCORPIUS_RULES_CACHE_DIR": ""})
    cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, console=False))
    run_main(build_flow(cfg))
    return out


@pytest.fixture(scope="module")
def api(sample_output: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """The API over the sample's archive; its live files are its own (tests append to them)."""
    out = tmp_path_factory.mktemp("api-live")
    (out / "archive").symlink_to(sample_output / "archive")
    with running_api(out, {"SCORPIUS_API_CLIENT_QUEUE": "200"}) as served:
        yield served
