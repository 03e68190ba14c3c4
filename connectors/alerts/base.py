"""What every alert channel shares: the failure it raises, Retry-After, and secret redaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from operators.alert_router import Target
from operators.records import Alert


class DeliveryError(Exception):
    """A delivery attempt failed; ``retryable`` says whether trying again may help.

    ``retry_after`` is the server's own wait in seconds (HTTP 429 / 503 Retry-After). The message
    must already be redacted: channels build it through their ``Redactor``.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    def send(self, alert: Alert, target: Target) -> None:
        """Delivers one alert to one recipient or raises ``DeliveryError``."""


class Redactor:
    """Replaces every configured secret (and the path of secret URLs, which holds the token)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        pieces: set[str] = set()
        for value in secrets:
            if not value:
                continue
            pieces.add(value)
            parts = urlsplit(value)
            if parts.scheme and parts.netloc:
                # urllib and urllib3 report errors with the path alone ("url: /api/webhooks/1/tok").
                for piece in (parts.path, parts.query):
                    if len(piece) > 1:
                        pieces.add(piece)
        # Longest first, so a URL is replaced whole before its path is looked for.
        self._pieces = sorted(pieces, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            text = text.replace(piece, "[redacted]")
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Redactor) and other._pieces == self._pieces

    def __hash__(self) -> int:
        return hash(tuple(self._pieces))


class RedactingFilter(logging.Filter):
    """Redacts secrets in records of a library logger that prints URLs or headers at DEBUG."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redactors = [redact]

    def also(self, redact: Redactor) -> None:
        """Redacts ``redact``'s secrets too: loggers are per process, channels per config, and
        a second config's channels share the logger (its secrets must not pass the first's
        filter)."""
        if redact not in self._redactors:
            self._redactors.append(redact)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for redact in self._redactors:
            text = redact(text)
        record.msg = text
        record.args = None
        return True


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A response header by case-insensitive name (slack-sdk hands back a plain dict)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value[0] if isinstance(value, list) else value)
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def http_failure(
    channel: str, status: int, body: str, retry_after: float | None, redact: Redactor
) -> DeliveryError:
    retryable = status in RETRYABLE_STATUS or status >= 500
    return DeliveryError(
        redact(f"{channel} answered HTTP {status}: {body[:200]}"),
        retryable=retryable,
        retry_after=retry_after,
    )


class RedactedLibraryLog:
    """While open, redacts secrets in a library logger's records.

    urllib3 (under requests) logs the request line, with a webhook's token in its path, at DEBUG.
    """

    def __init__(self, logger_name: str, redact: Redactor) -> None:
        self._logger = logging.getLogger(logger_name)
        self._filter = RedactingFilter(redact)
        self._logger.addFilter(self._filter)

    def close(self) -> None:
        self._logger.removeFilter(self._filter)
