"""Where customers stand: counts per journey, state, stage, and what was sent.

Used by `demo`, `simulate` and `status`; plain data, so it can be printed as
text, written as JSON, or charted.
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
