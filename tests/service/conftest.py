"""Fixtures of the service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.process import SmtpSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on a loopback port, counting what it receives."""
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.stop()
