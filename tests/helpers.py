"""Small helpers shared by the engine tests (imported, not a conftest, so each
test file says what it uses)."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from journeyflow.runtime.engine import Engine

_ids = itertools.count()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def track(user: str, name: str, when: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": name,
        "properties": properties,
        "timestamp": when,
        "messageId": f"m{next(_ids)}",
    }


def identify(user: str, when: str, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "traits": traits,
        "timestamp": when,
        "messageId": f"m{next(_ids)}",
    }


def sent(engine: Engine, customer: str) -> list[str]:
    """What reached the customer, as `channel/template`, in order."""
    return [
        f"{e.channel}/{e.template}" for e in engine.effects(customer) if e.status != "suppressed"
    ]


def state_of(engine: Engine, customer: str, journey: str | None = None) -> tuple[str, str]:
    enrolments = engine.enrolments(customer, journey)
    latest = enrolments[-1]
    return latest.state, latest.status
