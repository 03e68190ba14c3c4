"""What the channels that POST to one URL with requests share (Discord, the generic webhook): a
session, urllib3's log redacted while open, and an unreachable server as a retryable failure."""

from __future__ import annotations

from typing import Any

import requests

from connectors.alerts.base import DeliveryError, RedactedLibraryLog, Redactor, http_failure
from connectors.alerts.templates import Templates


class HttpPostChannel:
    name: str
    # How failures name the receiver ("discord webhook").
    receiver: str

    def __init__(self, url: str, templates: Templates, redact: Redactor, timeout_s: float) -> None:
        self._url = url
        self._templates = templates
        self._redact = redact
        self._timeout = timeout_s
        self._session = requests.Session()
        self._library_log = RedactedLibraryLog("urllib3.connectionpool", redact)

    def _post(self, **request: Any) -> requests.Response:
        try:
            return self._session.post(self._url, timeout=self._timeout, **request)
        except requests.RequestException as exc:
            raise DeliveryError(
                self._redact(f"{self.receiver} unreachable: {exc}"), retryable=True
            ) from None

    def _failure(self, response: requests.Response, retry_after: float | None) -> DeliveryError:
        return http_failure(
            self.receiver, response.status_code, response.text, retry_after, self._redact
        )

    def close(self) -> None:
        self._session.close()
        self._library_log.close()
