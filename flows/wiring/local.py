"""The console's alert lines from the ``output`` section (which alerts, colour, address labels)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.local import ConsoleSink
from flows.config import Config, ConfigError, setting_name
from flows.wiring.operators import enricher_for
from operators.alerting import at_least, console_line
from operators.records import SEVERITIES, Alert


def console_shows(cfg: Config) -> Callable[[Alert], bool]:
    """Whether an alert is severe enough for the console."""
    minimum = cfg.output.console_min_severity
    if minimum not in SEVERITIES:
        name = setting_name("output.console_min_severity")
        raise ConfigError(f"{name}: {minimum!r} is not one of {SEVERITIES}")
    return lambda alert: at_least(alert.severity, minimum)


def console_sink(cfg: Config) -> ConsoleSink:
    """One line per alert, naming addresses by their labels."""
    color = cfg.output.console_color
    if color not in ("auto", "always", "never"):
        name = setting_name("output.console_color")
        raise ConfigError(f"{name}: {color!r} is not auto, always or never")
    enricher = enricher_for(cfg.enrich)

    def label(chain_id: int, address: str) -> str | None:
        found = enricher.label(chain_id, address)
        return found.label if found is not None else None

    def line(alert: Alert, colored: bool) -> str:
        return console_line(alert, label, colored)

    return ConsoleSink(line, color)
