"""Real SMTP servers (aiosmtpd) on free loopback ports: STARTTLS with login, and implicit TLS.

The certificate is a throwaway CA-signed pair made with ``cryptography`` for 127.0.0.1, so the
client verifies the server for real (``smtp_ca_file``) instead of turning verification off.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.services.ports import free_port

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    HAVE_AIOSMTPD = True
except ImportError:  # pragma: no cover - CI installs the dev extra; the fixtures then fail loudly
    HAVE_AIOSMTPD = False

USER = "scorpius"
PASSWORD = "s3cret-smtp-Pa55"


@dataclass
class Mailbox:
    """What a server received, and the answers it should give to the next DATA commands."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        parsed = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: str
    mailbox: Mailbox


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scorpius test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


@pytest.fixture(scope="session")
def smtp_certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _make_certificates(tmp_path_factory.mktemp("smtp-tls"))


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _start(mailbox: Mailbox, **kwargs: Any) -> tuple[Any, int]:
    if not HAVE_AIOSMTPD:
        pytest.fail(
            "aiosmtpd is not installed: pip install -e '.[dev]' (tests/services/install_smtp.sh)"
        )
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


@pytest.fixture(scope="session")
def smtp_starttls_server(smtp_certificates: tuple[Path, Path, Path]) -> Iterator[SmtpServer]:
    """Port-587 style: STARTTLS required, then AUTH LOGIN/PLAIN with USER / PASSWORD."""
    ca, cert, key = smtp_certificates
    mailbox = Mailbox()
    controller, port = _start(
        mailbox,
        tls_context=_server_context(cert, key),
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    try:
        yield SmtpServer("127.0.0.1", port, str(ca), mailbox)
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def smtp_tls_server(smtp_certificates: tuple[Path, Path, Path]) -> Iterator[SmtpServer]:
    """Port-465 style: TLS from the first byte, no login."""
    ca, cert, key = smtp_certificates
    mailbox = Mailbox()
    controller, port = _start(mailbox, ssl_context=_server_context(cert, key))
    try:
        yield SmtpServer("127.0.0.1", port, str(ca), mailbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp_starttls(smtp_starttls_server: SmtpServer) -> SmtpServer:
    smtp_starttls_server.mailbox.messages.clear()
    smtp_starttls_server.mailbox.data_replies.clear()
    return smtp_starttls_server


@pytest.fixture
def smtp_tls(smtp_tls_server: SmtpServer) -> SmtpServer:
    smtp_tls_server.mailbox.messages.clear()
    return smtp_tls_server
