"""A generic webhook: the alert as JSON, signed with HMAC-SHA256 over timestamp and body.

Headers: ``X-Scorpius-Timestamp: <unix seconds>`` and ``X-Scorpius-Signature: sha256=<hex>`` where
the MAC covers ``b"<timestamp>." + body``: a receiver recomputes it with ``verify_signature`` and
rejects old timestamps, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from connectors.alerts.base import Redactor, header, parse_retry_after
from connectors.alerts.http import HttpPostChannel
from connectors.alerts.templates import Templates
from operators.alert_router import Target
from operators.records import Alert

TEMPLATE = "webhook.json.j2"
TIMESTAMP_HEADER = "X-Scorpius-Timestamp"
SIGNATURE_HEADER = "X-Scorpius-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


class WebhookChannel(HttpPostChannel):
    name = "webhook"
    receiver = "webhook"

    def __init__(
        self, url: str, secret: str, templates: Templates, redact: Redactor, timeout_s: float
    ) -> None:
        super().__init__(url, templates, redact, timeout_s)
        self._secret = secret

    def send(self, alert: Alert, target: Target) -> None:
        # Sent as rendered: the bytes signed are the bytes sent.
        body = self._templates.render_json_text(TEMPLATE, alert, target).encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp)}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        response = self._post(data=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise self._failure(
                response, parse_retry_after(header(response.headers, "Retry-After"))
            )
