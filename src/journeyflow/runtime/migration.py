"""Moving in-flight customers to a new journey version (`migrations:`).

For each active enrolment on an older version, the newest version's
`migrations` entry with that `from_version` maps its state; a state the entry
does not name maps to the state of the same name when the new version still
has it. Anything else is *stranded*: it stays on its old version and keeps
running there. A move keeps `entered_at`, recomputes the state's timers under
the new definition without running any actions, and is written to history
(kind `migrate`). Customers move in batches, one unit of work each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from journeyflow.exceptions import JourneyflowError
from journeyflow.runtime.engine import Engine
from journeyflow.runtime.semantics import CustomerRun


@dataclass
class MigrationReport:
    """What a migration moved (or, dry run, would move) and what it left stranded."""

    journey: str
    to_version: int
    moves: Counter[tuple[int, str, str]] = field(default_factory=Counter)  # (from v, from, to)
    stranded: Counter[tuple[int, str]] = field(default_factory=Counter)  # (version, state)
    applied: bool = False

    @property
    def moved(self) -> int:
        return sum(self.moves.values())

    def lines(self) -> list[str]:
        verb = "moved" if self.applied else "would move"
        out = [f"{self.journey}: {self.moved} enrolments {verb} to version {self.to_version}"]
        out += [f"  v{v} {a} -> {b}: {n}" for (v, a, b), n in sorted(self.moves.items())]
        if self.stranded:
            out.append(
                f"  stranded (no mapping; they stay on their version): "
                f"{sum(self.stranded.values())}"
            )
            out += [f"  v{v} {s}: {n}" for (v, s), n in sorted(self.stranded.items())]
        return out


def migrate(engine: Engine, journey: str, *, dry_run: bool) -> MigrationReport:
    """Plan (dry run) or apply the moves of one journey's in-flight customers,
    one unit of work per batch of customers, so a crash never half-moves one."""
    if journey not in engine.current:
        raise JourneyflowError(
            f"journey {journey!r} is not loaded; loaded: "
            f"{', '.join(sorted(engine.current)) or 'none'}"
        )
    target = engine.current[journey]
    new = target.journey
    report = MigrationReport(journey, new.version, applied=not dry_run)
    mappings = {m.from_version: m.states for m in new.migrations}
    customers = sorted(
        {
            e.customer_id
            for e in engine.enrolments(journey=journey)
            if e.active and e.version < new.version
        }
    )
    for start in range(0, len(customers), engine.batch_size):
        with engine.store.unit_of_work() as uow:
            batch = customers[start : start + engine.batch_size]
            uow.load(batch)
            for cid in batch:
                run = CustomerRun(engine.rules, uow, cid)
                for enrolment in list(run.enrolments):
                    if (
                        enrolment.journey != journey
                        or not enrolment.active
                        or enrolment.version >= new.version
                    ):
                        continue
                    mapping = mappings.get(enrolment.version)
                    to_state = None
                    if mapping is not None:
                        to_state = mapping.get(enrolment.state)
                        if to_state is None and enrolment.state in new.states:
                            to_state = enrolment.state
                    if to_state is None:
                        report.stranded[(enrolment.version, enrolment.state)] += 1
                        continue
                    report.moves[(enrolment.version, enrolment.state, to_state)] += 1
                    if not dry_run:
                        run.migrate(enrolment, target, to_state)
            if dry_run:
                uow.rollback()  # else the block's end commits
    return report
