"""Keeps credentials out of the server's logs.

Uvicorn logs each WebSocket handshake with its query string, and stream URLs may carry
``api_key=`` or ``token=`` (browsers cannot set headers there): their values are masked before a
record is written.
"""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"(?i)\b(api_key|token|access_token)=[^&\s\"']+")
_KEY = re.compile(r"\bsk_[0-9a-f]+_[A-Za-z0-9_-]+")
# The loggers uvicorn writes request lines to.
LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn")


def mask(text: str) -> str:
    return _KEY.sub("sk_***", _SECRET_PARAM.sub(r"\1=***", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(mask(a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        return True


def install() -> None:
    """Idempotent: one filter per logger."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
