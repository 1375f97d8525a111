"""Recompute segments through the engine, so journeys enter on segment entry.

A segmenter (a `journeyflow.types.Segmenter`; plugins register them) reads
every customer with their stored events, streamed from the store, and says
who is in which of its segments. The caller hands over the segmenters by name
(`Registry.segmenters`) and, for the failure message, which plugin provides
each (`plugin_of`): the runtime knows nothing of plugins.

`recompute` then gives each customer whose segments changed their new list
through `Engine.replace_segments`, one unit of work per batch of customers:
the segments of *other* segmenters (and any segment set by other means) are
kept, this segmenter's (`<segmenter>:<segment>`) are replaced. Entering a
segment is the internal `segment_entered` event that journeys with
`entry.segment` enrol on, and CEL sees `customer.segments`.

Customers whose segments did not change are not touched, so a recomputation
every day costs one pass over the store plus the changes. One segmenter
raising (or returning a segment it did not declare) is reported and leaves
its segments as they were; the other segmenters still run.

`SegmentSchedule` recomputes on a fixed cadence as (virtual or real) time
advances: a simulation calls `tick(now)` (or `due(now)` / `run(now)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from journeyflow.clock import as_utc
from journeyflow.exceptions import JourneyflowError
from journeyflow.types import CustomerFacts, Segmenter

if TYPE_CHECKING:
    from journeyflow.runtime.engine import Engine

__all__ = ["ALL", "SegmentSchedule", "SegmentationResult", "recompute", "resolve_segmenters"]

ALL = "all"

PluginOf = Callable[[str], str | None]
"""The plugin that provides a segmenter, by the segmenter's name (None: unknown)."""

log = structlog.get_logger("journeyflow.runtime.segments")


@dataclass
class SegmentationResult:
    """What one recomputation did.

    `counts` has every declared segment of the segmenters that ran (members
    now, zero included); `entered` counts customers who newly entered each
    segment (what journeys enrol on); `changed` customers got a new list."""

    at: datetime
    segmenters: list[str] = field(default_factory=list)
    customers: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    entered: dict[str, int] = field(default_factory=dict)
    left: dict[str, int] = field(default_factory=dict)
    changed: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "segmenters": self.segmenters,
            "customers": self.customers,
            "changed": self.changed,
            "segments": {
                name: {
                    "members": n,
                    "entered": self.entered.get(name, 0),
                    "left": self.left.get(name, 0),
                }
                for name, n in self.counts.items()
            },
            "problems": self.problems,
        }


def resolve_segmenters(
    segmenters: Mapping[str, Segmenter], names: str | Sequence[str]
) -> list[Segmenter]:
    """The segmenters named (`all`: every one, by name).

    :param segmenters: the registered segmenters, by name (`Registry.segmenters`)
    :raises JourneyflowError: a name not among them (naming the registered ones)
    """
    wanted = [names] if isinstance(names, str) else list(names)
    if ALL in wanted:
        return [segmenters[n] for n in sorted(segmenters)]
    missing = [n for n in wanted if n not in segmenters]
    if missing:
        known = ", ".join(sorted(segmenters)) or "none"
        raise JourneyflowError(
            f"no segmenter {missing[0]!r} is registered (registered: {known}); install the "
            "plugin that provides it (`journeyflow plugins` lists what is installed)"
        )
    return [segmenters[n] for n in dict.fromkeys(wanted)]


def _configured(segmenter: Segmenter, thresholds: Mapping[str, Any] | None) -> Segmenter:
    """Apply a vertical's `segment_thresholds[<segmenter>]`, when it has any.

    A segmenter takes settings when its `compute` has `configured(settings)`
    returning a new compute (the rfm and engagement plugins do)."""
    settings = (thresholds or {}).get(segmenter.name)
    if not settings:
        return segmenter
    configure = getattr(segmenter.compute, "configured", None)
    if configure is None:
        raise JourneyflowError(
            f"segmenter {segmenter.name!r} takes no settings, but the vertical sets "
            f"segment_thresholds[{segmenter.name!r}]; remove them or update the plugin"
        )
    return replace(segmenter, compute=configure(settings))


def recompute(
    engine: Engine,
    segmenters: Mapping[str, Segmenter],
    names: str | Sequence[str] = ALL,
    at: datetime | None = None,
    *,
    thresholds: Mapping[str, Any] | None = None,
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
    plugin_of: PluginOf | None = None,
) -> SegmentationResult:
    """Recompute segmenters over every customer and record the changes.

    :param engine: records segments (`replace_segments`) and owns the store read
    :param segmenters: the registered segmenters, by name (`Registry.segmenters`)
    :param names: a segmenter name, several, or `all`
    :param at: the moment segments are computed for and entered at (default:
        the engine's clock); events after it are not read
    :param thresholds: a vertical's `segment_thresholds` ({segmenter: settings})
    :param batch_size: customers recorded between two `on_batch` calls
    :param on_batch: progress callback, given the customers recorded in the batch
    :param plugin_of: names the plugin behind a segmenter that fails, in the problem
    :raises JourneyflowError: an unknown segmenter name
    """
    at = as_utc(at) if at is not None else engine.clock.now()
    chosen = [_configured(s, thresholds) for s in resolve_segmenters(segmenters, names)]
    result = SegmentationResult(at=at)
    desired: dict[str, set[str]] = {}
    current: dict[str, set[str]] = {}
    owned: list[str] = []  # prefixes of the segmenters whose result is used
    for segmenter in chosen:
        prefix = f"{segmenter.name}:"
        seen = _Seen(prefix)
        stream = seen.stream(engine, at)
        try:
            computed = segmenter.compute(stream, at)
            members = _check(segmenter, computed)
            for _ in stream:  # a segmenter that stopped early: still learn who holds what
                pass
        except Exception as exc:
            owner = (plugin_of(segmenter.name) if plugin_of is not None else None) or "?"
            problem = (
                f"segmenter {segmenter.name!r} (plugin {owner!r}) failed: "
                f"{type(exc).__name__}: {exc}; its segments were left as they were"
            )
            log.error(
                "segmenter failed",
                segmenter=segmenter.name,
                plugin=owner,
                error=f"{type(exc).__name__}: {exc}",
            )
            result.problems.append(problem)
            continue
        owned.append(prefix)
        result.segmenters.append(segmenter.name)
        result.customers = max(result.customers, seen.count)
        for cid, segments in seen.current.items():
            current.setdefault(cid, set()).update(segments)
        for segment in segmenter.segments:
            name = prefix + segment
            ids = members.get(segment, frozenset())
            result.counts[name] = len(ids)
            for cid in ids:
                desired.setdefault(cid, set()).add(name)
    if not owned:
        return result
    todo = sorted(
        cid
        for cid in set(current) | set(desired)
        if current.get(cid, set()) != desired.get(cid, set())
    )
    for offset in range(0, len(todo), batch_size):
        batch = todo[offset : offset + batch_size]
        # one unit of work per batch: read and write each customer's segments
        # together, so nothing changes them in between
        changes = engine.replace_segments(
            {cid: desired.get(cid, set()) for cid in batch}, owned=tuple(owned), at=at
        )
        for before, after in changes.values():
            for name in set(after) - set(before):
                result.entered[name] = result.entered.get(name, 0) + 1
            for name in set(before) - set(after):
                result.left[name] = result.left.get(name, 0) + 1
        result.changed += len(batch)
        if on_batch is not None:
            on_batch(len(batch))
    log.info(
        "segments recomputed",
        segmenters=result.segmenters,
        changed=result.changed,
        at=at.isoformat(),
    )
    return result


class _Seen:
    """Streams CustomerFacts from the store and remembers, on the way, which
    customers hold segments of this segmenter now (they may have to leave)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.current: dict[str, set[str]] = {}
        self.count = 0

    def stream(self, engine: Engine, at: datetime) -> Iterator[CustomerFacts]:
        for record, events in engine.store.iter_customer_events(at):
            self.count += 1
            mine = {s for s in record.segments if s.startswith(self.prefix)}
            if mine:
                self.current[record.id] = mine
            yield CustomerFacts(record.id, dict(record.attributes), tuple(events))


def _check(
    segmenter: Segmenter, computed: Mapping[str, Iterable[str]]
) -> dict[str, frozenset[str]]:
    unknown = sorted(set(computed) - set(segmenter.segments))
    if unknown:
        raise JourneyflowError(
            f"it returned segment {unknown[0]!r}, which it does not declare "
            f"(declared: {', '.join(segmenter.segments)})"
        )
    return {name: frozenset(ids) for name, ids in computed.items()}


class SegmentSchedule:
    """Recompute segments every `every`, as time advances (real or virtual).

    Runs are on a fixed grid: the first is due at `start` (default: the first
    `due`/`tick` call's `now`), the next at the first `start + k * every` after
    the last run, so a simulation that moves the clock in uneven steps keeps
    the cadence. A run computes at the `now` it is given::

        schedule = SegmentSchedule(engine, registry.segmenters, every=timedelta(days=1))
        ...
        engine.advance_to(t)
        schedule.tick(t)          # recomputes when a day has passed

    :param segmenters: the registered segmenters, by name (`Registry.segmenters`)
    :param names: segmenter name(s) or `all`
    :param thresholds: a vertical's `segment_thresholds`
    :param plugin_of: names the plugin behind a segmenter that fails (`recompute`)
    """

    def __init__(
        self,
        engine: Engine,
        segmenters: Mapping[str, Segmenter],
        every: timedelta,
        *,
        names: str | Sequence[str] = ALL,
        start: datetime | None = None,
        thresholds: Mapping[str, Any] | None = None,
        plugin_of: PluginOf | None = None,
    ) -> None:
        if every <= timedelta(0):
            raise JourneyflowError(f"a segment schedule needs a positive interval, not {every}")
        resolve_segmenters(segmenters, names)  # unknown names fail now, not at the first run
        self.engine = engine
        self.segmenters = segmenters
        self.every = every
        self.names = names
        self.thresholds = thresholds
        self.plugin_of = plugin_of
        self.start = as_utc(start) if start is not None else None
        self.next_at: datetime | None = self.start
        self.runs: list[SegmentationResult] = []

    def due(self, now: datetime) -> bool:
        """Whether a recomputation is due at `now`."""
        now = as_utc(now)
        if self.next_at is None:
            self.start = self.next_at = now
        return now >= self.next_at

    def run(self, now: datetime) -> SegmentationResult:
        """Recompute at `now` (due or not) and move the next run along the grid."""
        now = as_utc(now)
        if self.start is None:
            self.start = now
        result = recompute(
            self.engine,
            self.segmenters,
            self.names,
            now,
            thresholds=self.thresholds,
            plugin_of=self.plugin_of,
        )
        self.runs.append(result)
        steps = (now - self.start) // self.every + 1
        self.next_at = self.start + steps * self.every
        return result

    def tick(self, now: datetime) -> SegmentationResult | None:
        """Run if due; the result, or None when nothing was due."""
        return self.run(now) if self.due(now) else None
