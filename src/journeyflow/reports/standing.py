"""Where customers stand: counts per journey, state, stage, and what was sent.

`build_report` counts per journey (`format_report` is its text);
`customer_standing` and `format_customer` show one customer's enrolments and
what reached them. Used by `journeyflow demo` and `journeyflow simulate`;
plain data, so it can be printed as text, written as JSON, or charted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from journeyflow.runtime.engine import Engine


@dataclass
class JourneyReport:
    journey: str
    title: str | None
    enrolments: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)  # active enrolments only
    stages: Counter[str] = field(default_factory=Counter)
    sends: Counter[str] = field(default_factory=Counter)  # "email/offer-120" -> n
    suppressed: int = 0  # holdout: would have been sent
    holdout: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "title": self.title,
            "enrolments": self.enrolments,
            "statuses": dict(self.statuses),
            "states": dict(self.states),
            "stages": dict(self.stages),
            "sends": dict(self.sends),
            "suppressed": self.suppressed,
            "holdout": self.holdout,
        }


def build_report(engine: Engine) -> list[JourneyReport]:
    """Per journey (every loaded one, and any other the store holds): its
    enrolments by status, the active ones by state and stage, and the sends."""
    reports: dict[str, JourneyReport] = {
        jid: JourneyReport(jid, m.journey.title) for jid, m in sorted(engine.current.items())
    }
    for enrolment in engine.enrolments():
        rep = reports.setdefault(enrolment.journey, JourneyReport(enrolment.journey, None))
        rep.enrolments += 1
        rep.statuses[enrolment.status] += 1
        rep.holdout += enrolment.in_holdout
        if enrolment.active:
            rep.states[enrolment.state] += 1
            machine = engine.machine(enrolment.journey, enrolment.version)
            rep.stages[machine.journey.stage_of(enrolment.state) or "-"] += 1
    for effect in engine.effects():
        rep = reports.setdefault(effect.journey, JourneyReport(effect.journey, None))
        if effect.status == "suppressed":
            rep.suppressed += 1
        else:
            label = effect.channel + (f"/{effect.template}" if effect.template else "")
            rep.sends[label] += 1
    return list(reports.values())


def format_report(reports: list[JourneyReport]) -> str:
    """The per-journey counts as text, each journey's block after a blank line."""
    lines: list[str] = []
    for rep in reports:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(rep.statuses.items())) or "none"
        lines.append(f"\n{rep.journey} — {rep.title or ''}".rstrip(" —"))
        lines.append(
            f"  enrolments: {rep.enrolments} ({statuses})"
            + (f"; holdout {rep.holdout}" if rep.holdout else "")
        )
        if rep.states:
            lines.append(
                "  active by state: " + ", ".join(f"{k} {v}" for k, v in rep.states.most_common())
            )
            lines.append(
                "  active by stage: " + ", ".join(f"{k} {v}" for k, v in rep.stages.most_common())
            )
        if rep.sends:
            lines.append("  sent: " + ", ".join(f"{k} {v}" for k, v in rep.sends.most_common()))
        if rep.suppressed:
            lines.append(f"  held back (holdout): {rep.suppressed}")
    return "\n".join(lines)


def customer_standing(engine: Engine, customer: str) -> dict[str, Any]:
    """One customer's enrolments (journey, state, status, holdout, key) and
    what was sent to them, JSON-ready."""
    return {
        "customer": customer,
        "enrolments": [
            {
                "journey": e.journey,
                "state": e.state,
                "status": e.status,
                "in_holdout": e.in_holdout,
                "key": e.key,
            }
            for e in engine.enrolments(customer)
        ],
        "sent": [
            {"at": f.created_at.isoformat(), "channel": f.channel, "template": f.template}
            for f in engine.effects(customer)
            if f.status != "suppressed"
        ],
    }


def format_customer(engine: Engine, customer: str) -> str:
    """One customer as text: a line per enrolment, then what was sent, by time."""
    lines = [f"{customer}:"]
    for enrolment in engine.enrolments(customer):
        extra = " (holdout)" if enrolment.in_holdout else ""
        lines.append(f"  {enrolment.journey}: {enrolment.state} [{enrolment.status}]{extra}")
    for effect in engine.effects(customer):
        if effect.status != "suppressed":
            what = effect.template or effect.data.get("title", "")
            lines.append(f"    {effect.created_at:%Y-%m-%d %H:%M} {effect.channel} {what}")
    return "\n".join(lines)
