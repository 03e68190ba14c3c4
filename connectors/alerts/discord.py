"""Discord webhooks (embeds) over requests."""

from __future__ import annotations

import requests

from connectors.alerts.base import header, parse_retry_after
from connectors.alerts.http import HttpPostChannel
from operators.alert_router import Target
from operators.records import Alert

TEMPLATE = "discord.json.j2"


class DiscordChannel(HttpPostChannel):
    name = "discord"
    receiver = "discord webhook"

    def send(self, alert: Alert, target: Target) -> None:
        response = self._post(json=self._templates.render_json(TEMPLATE, alert, target))
        if response.status_code not in (200, 204):
            raise self._failure(response, _retry_after(response))


def _retry_after(response: requests.Response) -> float | None:
    """Discord's JSON ``retry_after`` (seconds, fractional) is finer than the header's."""
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("retry_after"), int | float):
        return max(0.0, float(doc["retry_after"]))
    return parse_retry_after(header(response.headers, "Retry-After"))
