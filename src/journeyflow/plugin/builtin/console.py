"""The `console` channel: one line per effect on standard output, for development.

    2026-01-01T10:00:00+00:00 customer=c1 journey=crm-welcome template=welcome \
data={"coupon": "GIFT10"} key=3f2a9c1b7d40

Idempotent per effect key within one process (a repeated key prints nothing).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from typing import TextIO

from journeyflow.plugin.markers import hookimpl
from journeyflow.types import Channel, Delivery, Effect


class ConsoleChannel:
    """Prints effects; `stream` defaults to the standard output at delivery time."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, effect: Effect) -> Delivery:
        with self._lock:
            if effect.key in self._seen:
                return Delivery.sent("already printed")
            self._seen.add(effect.key)
        print(format_line(effect), file=self.stream or sys.stdout, flush=True)
        return Delivery.sent("printed")


def format_line(effect: Effect) -> str:
    """The line the console channel prints for an effect."""
    data = json.dumps(effect.data, sort_keys=True, ensure_ascii=False, default=str)
    return (
        f"{effect.created_at.isoformat()} customer={effect.customer_id} "
        f"journey={effect.journey} template={effect.template or '-'} data={data} "
        f"key={effect.key[:12]}"
    )


@hookimpl
def journeyflow_channels() -> Iterable[Channel]:
    return [
        Channel(
            "console",
            deliver=ConsoleChannel(),
            description="prints a line per effect (development)",
            timeout=5.0,
        )
    ]
