"""Backtest on a store filled by `journeyflow demo` gives the same counts as a
fresh simulation of the draft over the same events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.definition.loader import load_paths
from journeyflow.simulation.population import population
from journeyflow.store.sql import SqlStore

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS, DAYS, SEED = 250, 200, 11


def test_backtest_of_a_draft_matches_a_fresh_simulation(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    runner = CliRunner()
    demo = runner.invoke(
        main,
        [
            "demo",
            "-j",
            str(ROOT / "journeys"),
            "--customers",
            str(CUSTOMERS),
            "--days",
            str(DAYS),
            "--seed",
            str(SEED),
            "--database",
            f"sqlite:///{db}",
        ],
    )
    assert demo.exit_code == 0, demo.output
    live_before = SqlStore(f"sqlite:///{db}").get_effects()

    draft = tmp_path / "draft.yaml"
    source = (ROOT / "journeys" / "crm-reactivation.yaml").read_text()
    draft.write_text(
        source.replace("after: 120d", "after: 90d").replace("version: 1", "version: 2", 1)
    )
    until = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=DAYS)
    result = runner.invoke(
        main,
        [
            "backtest",
            str(draft),
            "--database",
            f"sqlite:///{db}",
            "--until",
            until.strftime("%Y-%m-%dT%H:%M:%S"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    funnel = json.loads(result.output)
    assert funnel["entries"] > 50  # the draft saw real traffic

    # the same events, regenerated independently, simulated with only the draft
    journeys = [lj.journey for lj in load_paths([ROOT / "journeys"])]
    events = population(journeys, CUSTOMERS, datetime(2026, 1, 1, tzinfo=timezone.utc), DAYS, SEED)
    stream = tmp_path / "events.jsonl"
    stream.write_text("".join(json.dumps(e) + "\n" for e in events))
    sim = runner.invoke(
        main,
        [
            "simulate",
            str(draft),
            str(stream),
            "--until",
            until.strftime("%Y-%m-%dT%H:%M:%S"),
            "--format",
            "json",
        ],
    )
    assert sim.exit_code == 0, sim.output
    (expected,) = json.loads(sim.output)["journeys"]

    assert funnel["entries"] == expected["enrolments"]
    assert funnel["statuses"] == expected["statuses"]
    assert funnel["standing"] == expected["states"]
    sends = sum(row["count"] for row in funnel["sends_per_day"])
    assert sends == sum(expected["sends"].values())
    # and the live store was not touched
    assert SqlStore(f"sqlite:///{db}").get_effects() == live_before
