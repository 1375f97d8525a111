"""structlog configuration, in one place.

Logs go to standard error as key=value lines (JSON with JOURNEYFLOW_LOG_FORMAT=json),
at JOURNEYFLOW_LOG_LEVEL (default WARNING). Journey run-time errors are logged
at INFO: they are also written to the customer's history, which is where an
author looks for them.

Every line passes `redact_personal` first: e-mail addresses and phone numbers
in any value become `<email>` and `<phone>`, and the values of fields named
for them (`email`, `phone`, `to`, ...) are hidden whole, so a log shipped to a
third party carries no customer's address (customer ids stay: they are the
operator's pseudonymous key to the history).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
# international numbers (a leading +) with the usual separators; a bare run of
# digits is left alone, as ids, amounts and epoch times are such runs
PHONE = re.compile(r"\+\d[\d .()\-]{5,}\d")
PERSONAL_FIELDS = frozenset({"email", "phone", "to", "recipient", "address", "mobile"})


def redact_text(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced."""
    if "@" in text:
        text = EMAIL.sub("<email>", text)
    if "+" in text:
        text = PHONE.sub("<phone>", text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: "<hidden>" if k in PERSONAL_FIELDS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_personal(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no e-mail address or phone number reaches a log line."""
    for key, value in list(event_dict.items()):
        if key in PERSONAL_FIELDS and value is not None:
            event_dict[key] = "<hidden>"
        else:
            event_dict[key] = _redact(value)
    return event_dict


def configure(level: str | None = None, fmt: str | None = None) -> None:
    name = (level or os.environ.get("JOURNEYFLOW_LOG_LEVEL") or "warning").lower()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if (fmt or os.environ.get("JOURNEYFLOW_LOG_FORMAT")) == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_personal,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(name, logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
