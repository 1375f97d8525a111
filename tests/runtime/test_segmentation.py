"""Segments recomputed through the engine: `journeyflow segment` on SQLite enrols
champions into a journey that enters on `rfm:champions`, CEL sees
`customer.segments`, other segmenters' segments are kept, and SegmentSchedule
recomputes on a grid as virtual time advances."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.definition.loader import load_text
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.segments import SegmentSchedule, recompute
from journeyflow.testing.pytest_plugin import EngineFactory
from journeyflow.types import CustomerFacts, Segmenter
from tests.journeys import VIP

journeyflow_rfm = pytest.importorskip("journeyflow_rfm")  # ./dev installs plugins/*
journeyflow_engagement = pytest.importorskip("journeyflow_engagement")

AT = datetime(2026, 7, 1, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]


def _orders() -> list[dict[str, Any]]:
    """25 customers; c{i} buys i+1 times for 10*i each, the last time 100-4i days
    before AT: c20..c24 are the champions, c00..c04 inactive."""
    events = []
    for i in range(25):
        for k in range(i + 1):
            when = AT - timedelta(days=100 - i * 4 + k)
            events.append(
                {
                    "type": "track",
                    "userId": f"c{i:02d}",
                    "event": "order_completed",
                    "messageId": f"o-{i}-{k}",
                    "timestamp": when.isoformat(),
                    "properties": {"total": 10 * i, "order_id": f"{i}-{k}"},
                }
            )
    events.sort(key=lambda e: e["timestamp"])
    return events


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path]:
    db = f"sqlite:///{tmp_path / 'jf.db'}"
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "vip-lounge.yaml").write_text(VIP)
    source = tmp_path / "orders.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in _orders()))
    result = CliRunner().invoke(
        main, ["ingest", str(source), "-j", str(journeys), "-d", db, "--no-timers"]
    )
    assert result.exit_code == 0, result.output
    return db, journeys


def test_segment_rfm_cli_enrols_champions_and_cel_sees_segments(
    setup: tuple[str, Path], journeyflow_engine: EngineFactory
) -> None:
    db, journeys = setup
    runner = CliRunner()
    result = runner.invoke(
        main, ["segment", "rfm", "-d", db, "-j", str(journeys), "--at", "2026-07-01"]
    )
    assert result.exit_code == 0, result.output
    assert "rfm at 2026-07-01T00:00:00+00:00: 25 customers, 25 changed" in result.output
    assert "rfm:champions" in result.output and "+5 entered" in result.output

    engine = journeyflow_engine(journeys, store=db, start=AT)
    enrolled = {e.customer_id: e for e in engine.enrolments(journey="vip-lounge")}
    assert sorted(enrolled) == ["c20", "c21", "c22", "c23", "c24"]
    assert {e.state for e in enrolled.values()} == {"invited"}
    assert engine.customer("c24").attributes["champion_seen"] is True  # type: ignore[union-attr]
    assert "rfm:champions" in engine.customer("c24").segments  # type: ignore[union-attr]
    assert engine.customer("c00").segments == ["rfm:inactive"]  # type: ignore[union-attr]
    tasks = [e for e in engine.effects() if e.channel == "task"]
    assert sorted(t.customer_id for t in tasks) == sorted(enrolled)

    # the CEL guard reads customer.segments: a champion may join the lounge
    engine.ingest(
        [
            {
                "type": "track",
                "userId": "c24",
                "event": "lounge_joined",
                "timestamp": "2026-07-02T00:00:00Z",
            }
        ]
    )
    assert engine.enrolments("c24", "vip-lounge")[0].state == "member"

    # a second run on the same day changes nothing and enrols nobody again
    again = runner.invoke(
        main,
        ["segment", "rfm", "-d", db, "-j", str(journeys), "--at", "2026-07-01", "--format", "json"],
    )
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["changed"] == 0 and data["segments"]["rfm:champions"]["members"] == 5
    assert (
        len(journeyflow_engine(journeys, store=db, start=AT).enrolments(journey="vip-lounge")) == 5
    )


def test_other_segmenters_segments_are_kept(
    setup: tuple[str, Path], journeyflow_engine: EngineFactory
) -> None:
    db, journeys = setup
    engine = journeyflow_engine(journeys, store=db, start=AT)
    engine.set_segments("c00", ["engagement:opened_90d", "manual:press"], AT - timedelta(days=1))
    engine.set_segments("c24", ["rfm:inactive", "manual:press"], AT - timedelta(days=1))
    registry = _registry(journeyflow_rfm)
    result = recompute(engine, registry.segmenters, "rfm", AT)
    assert result.left == {"rfm:inactive": 1}
    assert engine.customer("c00").segments == [  # type: ignore[union-attr]
        "engagement:opened_90d",
        "manual:press",
        "rfm:inactive",
    ]
    assert engine.customer("c24").segments == [  # type: ignore[union-attr]
        "manual:press",
        "rfm:champions",
    ]
    # scores are relative: a year later, with a 180-day window, nobody has an
    # order in it, so everyone leaves the rfm segments and keeps the others
    later = recompute(
        engine,
        registry.segmenters,
        "rfm",
        AT + timedelta(days=365),
        thresholds={"rfm": {"window": "180d"}},
    )
    assert later.changed == 25 and later.left["rfm:champions"] == 5
    assert engine.customer("c24").segments == ["manual:press"]  # type: ignore[union-attr]


def test_segment_all_unknown_names_and_json(setup: tuple[str, Path]) -> None:
    db, journeys = setup
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["segment", "all", "-d", db, "-j", str(journeys), "--at", "2026-07-01", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"rfm", "engagement"} <= set(data["segmenters"])
    assert data["segments"]["engagement:dormant"]["members"] == 0
    bad = runner.invoke(main, ["segment", "rmf", "-d", db, "-j", str(journeys)])
    assert bad.exit_code == 1
    assert "no segmenter 'rmf' is registered (registered:" in bad.output
    assert "Traceback" not in bad.output
    usage = runner.invoke(main, ["segment", "rfm", "-d", db, "--every", "1d", "--at", "2026-07-01"])
    assert usage.exit_code == 2
    nonsense = runner.invoke(main, ["segment", "rfm", "-d", db, "--every", "often"])
    assert nonsense.exit_code == 2 and "not a duration" in nonsense.output


def test_segment_every_runs_times_with_the_real_clock(setup: tuple[str, Path]) -> None:
    db, journeys = setup
    result = CliRunner().invoke(
        main,
        [
            "segment",
            "rfm",
            "-d",
            db,
            "-j",
            str(journeys),
            "--every",
            "1s",
            "--times",
            "2",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["changed"] == 25 and second["changed"] == 0
    assert datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"]) >= timedelta(
        seconds=0.99
    )


def test_vertical_thresholds_configure_segmenters(
    setup: tuple[str, Path], journeyflow_engine: EngineFactory
) -> None:
    db, journeys = setup
    engine = journeyflow_engine(journeys, store=db, start=AT)
    registry = _registry(journeyflow_rfm)
    # a 30-day window leaves c18..c24 (last order 28, 24, ... 4 days before AT)
    result = recompute(
        engine, registry.segmenters, "rfm", AT, thresholds={"rfm": {"window": "30d"}}
    )
    assert sum(result.counts.values()) == 7
    with pytest.raises(JourneyflowError, match="takes no settings"):
        recompute(
            engine,
            _registry(_Broken()).segmenters,
            "broken",
            AT,
            thresholds={"broken": {"x": 1}},
        )


class _Broken:
    @hookimpl
    def journeyflow_segmenters(self) -> Iterable[Segmenter]:
        def boom(customers: Iterable[CustomerFacts], at: datetime) -> Mapping[str, frozenset[str]]:
            raise RuntimeError("no database")

        def liar(customers: Iterable[CustomerFacts], at: datetime) -> Mapping[str, frozenset[str]]:
            return {"gold": frozenset({"c01"})}

        return [Segmenter("broken", ("x",), compute=boom), Segmenter("liar", ("y",), compute=liar)]


def _plugin_of(registry: Registry) -> Callable[[str], str | None]:
    return lambda name: registry.owner("journeyflow_segmenters", name)


def _registry(*plugins: object) -> Registry:
    pm = build_manager(entry_points=False, disabled=())
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{i}")
    return Registry.from_manager(pm)


def test_a_failing_segmenter_is_reported_and_the_others_run(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(start=AT)
    engine.ingest(_orders())
    engine.set_segments("c01", ["broken:x"], AT - timedelta(days=1))
    registry = _registry(_Broken(), journeyflow_rfm)
    result = recompute(engine, registry.segmenters, "all", AT, plugin_of=_plugin_of(registry))
    assert result.segmenters == ["rfm"]
    assert any(
        "'broken' (plugin 'p0') failed: RuntimeError: no database" in p for p in result.problems
    )
    assert any("'liar'" in p and "does not declare" in p for p in result.problems)
    assert engine.customer("c01").segments == ["broken:x", "rfm:inactive"]  # type: ignore[union-attr]


def test_schedule_runs_on_a_grid_as_virtual_time_advances(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(load_text(VIP, "vip-lounge.yaml"), start=AT - timedelta(days=120))
    schedule = SegmentSchedule(
        engine, _registry(journeyflow_rfm).segmenters, timedelta(days=7), names="rfm"
    )
    events = _orders()
    moments = []
    for day in range(0, 121, 3):  # the simulation moves three days at a time
        now = AT - timedelta(days=120 - day)
        engine.ingest(
            [
                e
                for e in events
                if now - timedelta(days=3) < datetime.fromisoformat(e["timestamp"]) <= now
            ]
        )
        engine.advance_to(now)
        if schedule.tick(now) is not None:
            moments.append((now - (AT - timedelta(days=120))).days)
    assert moments == [0, 9, 15, 21, 30, 36, 42, 51, 57, 63, 72, 78, 84, 93, 99, 105, 114, 120]
    assert not schedule.due(AT)
    assert schedule.next_at == AT - timedelta(days=120) + timedelta(days=126)
    assert {e.customer_id for e in engine.enrolments(journey="vip-lounge")} >= {"c24"}
    with pytest.raises(JourneyflowError, match="positive interval"):
        SegmentSchedule(engine, _registry(journeyflow_rfm).segmenters, timedelta(0))
    with pytest.raises(JourneyflowError, match="no segmenter 'nope'"):
        SegmentSchedule(
            engine, _registry(journeyflow_rfm).segmenters, timedelta(days=1), names="nope"
        )


def test_crm_vip_enrols_on_rfm_champions(setup: tuple[str, Path]) -> None:
    db, _ = setup
    registry = Registry.from_manager(build_manager())
    if not {"email", "sms"} <= set(registry.channels):
        pytest.skip("the email and sms channel plugins are not installed")
    result = CliRunner().invoke(
        main,
        [
            "segment",
            "rfm",
            "-d",
            db,
            "-j",
            str(REPO / "journeys" / "crm-vip.yaml"),
            "--at",
            "2026-07-01",
        ],
    )
    assert result.exit_code == 0, result.output
    from journeyflow.store import open_store

    store = open_store(db)
    states = {e.customer_id: e.state for e in store.get_enrolments(None, "crm-vip")}
    assert states == {f"c{i}": "vip_invited" for i in range(20, 25)}
