"""structlog configuration, in one place.

Logs go to standard error as key=value lines (JSON with JOURNEYFLOW_LOG_FORMAT=json),
at JOURNEYFLOW_LOG_LEVEL (default WARNING). Journey run-time errors are logged
at INFO: they are also written to the customer's history, which is where an
author looks for them.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(level: str | None = None, fmt: str | None = None) -> None:
    name = (level or os.environ.get("JOURNEYFLOW_LOG_LEVEL") or "warning").lower()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if (fmt or os.environ.get("JOURNEYFLOW_LOG_FORMAT")) == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(name, logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
