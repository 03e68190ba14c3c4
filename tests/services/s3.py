"""S3 for the tests: moto's ThreadedMotoServer on a free loopback port (as s3fs's own tests do).

``s3_server`` runs for the session; ``s3_archive`` gives each test a fresh bucket and the
``(url, storage_options)`` pair every archive function takes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.services.ports import free_port, wait_for_port


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    @property
    def storage_options(self) -> dict[str, Any]:
        """s3fs options for this server (credentials are moto's dummies, passed explicitly)."""
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
            # A fresh filesystem per use: s3fs caches listings, and tests delete behind its back.
            "skip_instance_cache": True,
            "use_listings_cache": False,
        }


@dataclass(frozen=True)
class S3Archive:
    url: str
    storage_options: dict[str, Any]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # the dev extra installs moto[server]
        pytest.fail(f"moto[server] is not installed ({exc}); run `pip install -e '.[dev]'`")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        wait_for_port(port, timeout=30)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_archive(s3_server: S3Server) -> S3Archive:
    import boto3

    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return S3Archive(f"s3://{bucket}/scorpius", s3_server.storage_options)
