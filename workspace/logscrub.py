"""Secrets never reach a log line or a trace: :func:`scrub` masks credentials in text (query parameters such as
``?token=``, ``Authorization`` header values, agent tokens anywhere), and :func:`install` makes every log record of
the process pass through it, whichever logger wrote it and whoever configured the handlers (uvicorn's access log
included). Span attributes are scrubbed by :mod:`workspace.telemetry_http` with the same function.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
SECRET_PARAMS = ("token", "access_token", "id_token", "refresh_token", "logout_token", "code", "secret",
                 "client_secret", "password", "passwd", "api_key", "apikey", "key", "session", "csrf_token")
"""Query or form parameters whose value is a credential (``code`` is the OIDC authorization code)."""

_PARAM = re.compile(r"(?i)(?<![\w-])(" + "|".join(SECRET_PARAMS) + r")=([^&\s\"'#;,]*)")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization|proxy-authorization|x-api-key|cookie)(['\"]?\s*[:=]\s*['\"]?)"
                          r"(bearer\s+|basic\s+|token\s+)?([^\s'\",;]+)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+([A-Za-z0-9._~+/=-]{8,})")
_AGENT_TOKEN = re.compile(r"chorus_at_[A-Za-z0-9_-]+")
_PARAM_MARKS = tuple(f"{name}=" for name in SECRET_PARAMS)
_HEADER_MARKS = ("authorization", "cookie", "x-api-key")


def scrub(text: str) -> str:
    """``text`` with every credential replaced by ``[redacted]``; each pattern runs only when a plain substring
    says it may match, so ordinary lines cost a few substring checks."""
    low = text.lower()
    if "chorus_at_" in low:
        text = _AGENT_TOKEN.sub("chorus_at_" + REDACTED, text)
    if "=" in text and any(mark in low for mark in _PARAM_MARKS):
        text = _PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}" if m.group(2) else m.group(0), text)
    if any(mark in low for mark in _HEADER_MARKS):
        text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text)
    if "bearer" in low:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        return scrub(value.decode("utf-8", "replace"))
    return value


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask credentials in a record's message and in each of its arguments (kept as arguments: uvicorn's access
    formatter reads them by position)."""
    if isinstance(record.msg, str):
        record.msg = scrub(record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_scrub_value(a) for a in args)
    elif isinstance(args, dict):
        record.args = {k: _scrub_value(v) for k, v in args.items()}
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatters reuse exc_text when it is set: an exception's message (a URL with its query) is scrubbed too.
        record.exc_text = scrub(_TRACEBACKS.formatException(record.exc_info))
    return record


_TRACEBACKS = logging.Formatter()
_installed = False


def install() -> None:
    """Scrub every log record of this process from now on: records are masked as they are created (a record
    factory), so loggers and handlers configured later, by uvicorn or a library, are covered too. Idempotent."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(make(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True
