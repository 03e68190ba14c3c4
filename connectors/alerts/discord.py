"""Discord webhooks (embeds) over requests."""

from __future__ import annotations

import requests

from connectors.alerts.base import (
    DeliveryError,
    RedactedLibraryLog,
    Redactor,
    header,
    http_failure,
    parse_retry_after,
)
from connectors.alerts.templates import Templates
from operators.alert_router import Target
from operators.records import Alert

TEMPLATE = "discord.json.j2"


class DiscordChannel:
    name = "discord"

    def __init__(self, url: str, templates: Templates, redact: Redactor, timeout_s: float) -> None:
        self._url = url
        self._templates = templates
        self._redact = redact
        self._timeout = timeout_s
        self._session = requests.Session()
        self._library_log = RedactedLibraryLog("urllib3.connectionpool", redact)

    def send(self, alert: Alert, target: Target) -> None:
        body = self._templates.render_json(TEMPLATE, alert, target)
        try:
            response = self._session.post(self._url, json=body, timeout=self._timeout)
        except requests.RequestException as exc:
            raise DeliveryError(
                self._redact(f"discord webhook unreachable: {exc}"), retryable=True
            ) from None
        if response.status_code in (200, 204):
            return
        raise http_failure(
            "discord webhook",
            response.status_code,
            response.text,
            _retry_after(response),
            self._redact,
        )

    def close(self) -> None:
        self._session.close()
        self._library_log.close()


def _retry_after(response: requests.Response) -> float | None:
    """Discord's JSON ``retry_after`` (seconds, fractional) is finer than the header's."""
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("retry_after"), int | float):
        return max(0.0, float(doc["retry_after"]))
    return parse_retry_after(header(response.headers, "Retry-After"))
