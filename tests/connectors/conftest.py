"""Fixtures of the connector tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.s3 import S3Archive


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.service)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> S3Archive:
    """Where an archive test writes: a local folder, and a fresh bucket on the S3 test server."""
    if request.param == "s3":
        s3: S3Archive = request.getfixturevalue("s3_archive")
        return s3
    return S3Archive(f"file://{tmp_path}/archive", {})
