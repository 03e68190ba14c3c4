"""Slack through slack-sdk: an incoming webhook, or the Web API's chat.postMessage with blocks."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from connectors.alerts.base import (
    DeliveryError,
    RedactingFilter,
    Redactor,
    header,
    http_failure,
    parse_retry_after,
)
from connectors.alerts.templates import Templates
from operators.alert_router import Target
from operators.records import Alert

TEMPLATE = "slack.json.j2"
# Web API errors worth another try (https://api.slack.com/methods/chat.postMessage#errors).
RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def _quiet_logger(name: str, redact: Redactor) -> logging.Logger:
    # slack-sdk logs the webhook URL and request headers (the bot token) at DEBUG.
    logger = logging.getLogger(f"scorpius.alerts.{name}")
    for existing in logger.filters:
        if isinstance(existing, RedactingFilter):
            existing.also(redact)
            return logger
    logger.addFilter(RedactingFilter(redact))
    return logger


class SlackWebhookChannel:
    """Incoming webhook: the URL (a secret) names the workspace and channel."""

    name = "slack"

    def __init__(self, url: str, templates: Templates, redact: Redactor, timeout_s: float) -> None:
        self._templates = templates
        self._redact = redact
        self._client = WebhookClient(
            url,
            timeout=max(1, round(timeout_s)),
            logger=_quiet_logger(self.name, redact),
            retry_handlers=[],  # the dispatcher retries, with backoff and Retry-After
        )

    def send(self, alert: Alert, target: Target) -> None:
        body = self._templates.render_json(TEMPLATE, alert, target)
        try:
            response = self._client.send_dict(body)
        except (OSError, SlackClientError) as exc:
            raise DeliveryError(
                self._redact(f"slack webhook unreachable: {exc}"), retryable=True
            ) from None
        if response.status_code != 200:
            retry_after = parse_retry_after(header(response.headers, "Retry-After"))
            raise http_failure(
                "slack webhook", response.status_code, response.body, retry_after, self._redact
            )


class SlackApiChannel:
    """chat.postMessage with a bot token; the recipient is a channel id or #name."""

    name = "slack_api"

    def __init__(
        self, token: str, base_url: str, templates: Templates, redact: Redactor, timeout_s: float
    ) -> None:
        self._templates = templates
        self._redact = redact
        self._client = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=max(1, round(timeout_s)),
            logger=_quiet_logger(self.name, redact),
            retry_handlers=[],
        )

    def send(self, alert: Alert, target: Target) -> None:
        body = self._templates.render_json(TEMPLATE, alert, target)
        try:
            self._client.chat_postMessage(
                channel=target.recipient, text=body.get("text", ""), blocks=body.get("blocks")
            )
        except SlackApiError as exc:
            response = exc.response
            error = str(response.get("error", "")) if isinstance(response.data, dict) else ""
            status = response.status_code
            retry_after = parse_retry_after(header(response.headers, "Retry-After"))
            raise DeliveryError(
                self._redact(f"slack chat.postMessage failed: HTTP {status} {error or 'no error'}"),
                retryable=status == 429 or status >= 500 or error in RETRYABLE_API_ERRORS,
                retry_after=retry_after,
            ) from None
        except (OSError, SlackClientError) as exc:
            raise DeliveryError(
                self._redact(f"slack chat.postMessage unreachable: {exc}"), retryable=True
            ) from None
