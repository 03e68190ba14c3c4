"""Jinja2 templates of each channel's message; a file of the same name in the user's folder wins.

JSON templates (``slack.json.j2``, ``discord.json.j2``, ``webhook.json.j2``) put every value through
``tojson`` so a title with quotes or newlines cannot break the document; what they render is parsed
before it is sent, so a broken user template fails its delivery with the reason, not the channel.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from connectors.alerts.base import DeliveryError
from operators.alert_router import Target
from operators.alerting import chain_name
from operators.records import Alert, to_builtins

BUNDLED = Path(__file__).resolve().parent / "templates"

EXPLORERS = {
    1: "https://etherscan.io/tx/",
    10: "https://optimistic.etherscan.io/tx/",
    8453: "https://basescan.org/tx/",
    42161: "https://arbiscan.io/tx/",
}
EMOJI = {
    "info": ":information_source:",
    "low": ":large_blue_circle:",
    "medium": ":large_yellow_circle:",
    "high": ":large_orange_circle:",
    "critical": ":red_circle:",
}
# Discord embed side colours by severity.
COLOURS = {
    "info": 0x95A5A6,
    "low": 0x3498DB,
    "medium": 0xF1C40F,
    "high": 0xE67E22,
    "critical": 0xE74C3C,
}


def slack_escape(text: Any) -> str:
    """Slack mrkdwn's three control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def context(alert: Alert, target: Target) -> dict[str, Any]:
    """What every template sees."""
    explorer = EXPLORERS.get(alert.chain_id)
    severity = alert.severity.lower()
    return {
        "alert": to_builtins(alert),
        "target": {"channel": target.channel, "recipient": target.recipient, "route": target.route},
        "chain": chain_name(alert.chain_id),
        "severity": severity,
        "emoji": EMOJI.get(severity, ":warning:"),
        "colour": COLOURS.get(severity, COLOURS["critical"]),
        "first_seen": _iso(alert.first_seen_ms),
        "created": _iso(alert.created_ms),
        "txs": [
            {
                "hash": h,
                "short": f"{h[:10]}…{h[-4:]}" if len(h) > 16 else h,
                "url": f"{explorer}{h}" if explorer else None,
            }
            for h in alert.tx_hashes
        ],
    }


class Templates:
    def __init__(self, user_dir: str | Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if user_dir:
            loaders.append(jinja2.FileSystemLoader(str(user_dir)))
        loaders.append(jinja2.FileSystemLoader(str(BUNDLED)))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # JSON templates escape with tojson, text ones need none
            keep_trailing_newline=False,
        )
        self._env.filters["slack_escape"] = slack_escape

    def render(self, name: str, alert: Alert, target: Target) -> str:
        try:
            return self._env.get_template(name).render(context(alert, target)).strip()
        except jinja2.TemplateError as exc:
            raise DeliveryError(f"template error: {name}: {exc}", retryable=False) from None

    def render_json(self, name: str, alert: Alert, target: Target) -> dict[str, Any]:
        return self._render_json(name, alert, target)[1]

    def render_json_text(self, name: str, alert: Alert, target: Target) -> str:
        """The rendered text, checked to be a JSON object (for bodies that are signed as sent)."""
        return self._render_json(name, alert, target)[0]

    def _render_json(self, name: str, alert: Alert, target: Target) -> tuple[str, dict[str, Any]]:
        text = self.render(name, alert, target)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeliveryError(
                f"template error: {name} did not render JSON: {exc}", retryable=False
            ) from None
        if not isinstance(doc, dict):
            raise DeliveryError(f"template error: {name} must render an object", retryable=False)
        return text, doc
