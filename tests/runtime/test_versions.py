"""Versions and migrations through the CLI, against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.store.sql import SqlStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.journeys import LAPSE, LAPSE_V2


def _events(path: Path) -> Path:
    lines = []
    for i in range(6):  # c0..c5 order on Jan 1
        lines.append(
            {
                "type": "track",
                "userId": f"c{i}",
                "event": "order_completed",
                "timestamp": "2026-01-01T00:00:00Z",
                "messageId": f"o{i}",
            }
        )
    lines.append(
        {
            "type": "track",
            "userId": "c5",
            "event": "browse",
            "timestamp": "2026-01-02T00:00:00Z",
            "messageId": "b5",
        }
    )
    for i in (3, 4):  # c3, c4 order again later: still active when v1 fires for the others
        lines.append(
            {
                "type": "track",
                "userId": f"c{i}",
                "event": "order_completed",
                "timestamp": "2026-02-10T00:00:00Z",
                "messageId": f"again{i}",
            }
        )
    lines.append(
        {
            "type": "track",
            "userId": "c9",
            "event": "noop",
            "timestamp": "2026-02-15T00:00:00Z",
            "messageId": "tick",
        }
    )
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    return path


def test_dry_run_reports_what_the_migration_then_does(
    tmp_path: Path, journeyflow_engine: EngineFactory
) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "lapse.yaml").write_text(LAPSE)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "ingest",
            str(_events(tmp_path / "e.jsonl")),
            "--journeys",
            str(tmp_path / "v1"),
            "--database",
            db,
            "--no-timers",
        ],
    )
    assert result.exit_code == 0, result.output
    store = SqlStore(db)
    from tests.helpers import at

    journeyflow_engine(LAPSE, store=store, start="2026-02-15T00:00:00Z").advance_to(
        at("2026-02-15T00:00:00Z")
    )
    before = {e.customer_id: (e.version, e.state) for e in store.get_enrolments()}
    assert before == {
        "c0": (1, "lapsing"),
        "c1": (1, "lapsing"),
        "c2": (1, "lapsing"),
        "c3": (1, "active"),
        "c4": (1, "active"),
        "c5": (1, "lapsing"),
    }

    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "lapse.yaml").write_text(LAPSE_V2)
    dry = runner.invoke(
        main,
        ["migrate", "lapse", "--journeys", str(tmp_path / "v2"), "--database", db, "--dry-run"],
    )
    assert dry.exit_code == 0, dry.output
    assert "6 enrolments would move to version 2" in dry.output
    assert "v1 lapsing -> inactivating: 4" in dry.output
    assert "v1 active -> active: 2" in dry.output
    assert {e.customer_id: (e.version, e.state) for e in store.get_enrolments()} == before

    done = runner.invoke(
        main, ["migrate", "lapse", "--journeys", str(tmp_path / "v2"), "--database", db]
    )
    assert done.exit_code == 0, done.output
    assert done.output.replace("moved", "would move") == dry.output
    after = {e.customer_id: (e.version, e.state) for e in store.get_enrolments()}
    assert after == {
        c: (2, "inactivating" if s == "lapsing" else s) for c, (_, s) in before.items()
    }
    moves = [h for h in store.get_history() if h.kind == "migrate"]
    assert len(moves) == 6 and {h.cause for h in moves} == {"migration:v1->v2"}
    # timers follow the new definition from the original entry time: c3 entered
    # active on Feb 10, so v2's 20 days make it due on Mar 2
    c3 = next(e for e in store.get_enrolments("c3"))
    assert [due for _, due in c3.timers] == [at("2026-03-02T00:00:00Z")]
    # a second run finds nothing left to move
    again = runner.invoke(
        main, ["migrate", "lapse", "--journeys", str(tmp_path / "v2"), "--database", db]
    )
    assert "0 enrolments moved" in again.output


def test_unmapped_states_are_stranded_and_stay_on_their_version(
    tmp_path: Path, journeyflow_engine: EngineFactory
) -> None:
    from journeyflow.runtime.migration import migrate
    from tests.helpers import at, track

    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    v1 = journeyflow_engine(LAPSE, store=store)
    v1.ingest(
        [
            track("c", "order_completed", "2026-01-01T00:00:00Z"),
            track("c", "browse", "2026-01-01T01:00:00Z"),
        ]
    )
    v2 = journeyflow_engine(LAPSE_V2, store=store, start=v1.clock.now())
    report = migrate(v2, "lapse", dry_run=False)
    assert report.stranded == {(1, "browsing"): 1} and report.moved == 0
    v2.advance_to(at("2026-01-03T00:00:00Z"))  # still runs on v1: browsing -> active
    (enrolment,) = store.get_enrolments("c")
    assert (enrolment.version, enrolment.state) == (1, "active")


def test_loading_a_changed_file_without_a_bump_is_refused_by_the_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    folder = tmp_path / "j"
    folder.mkdir()
    (folder / "lapse.yaml").write_text(LAPSE)
    events = _events(tmp_path / "e.jsonl")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(events), "-j", str(folder), "-d", db]).exit_code == 0
    (folder / "lapse.yaml").write_text(LAPSE.replace("30d", "45d"))
    result = runner.invoke(main, ["ingest", str(events), "-j", str(folder), "-d", db])
    assert result.exit_code == 1
    assert "without a version bump" in result.output and "Traceback" not in result.output
