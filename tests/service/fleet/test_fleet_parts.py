"""The fleet's parts on the machine's PostgreSQL: procrastinate's tables
installed once by workers starting together, one job per waiting shard
however many feeders ask, SIGTERM finishing the running job; and the
segment cadence as a cron."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from journeyflow.clock import SystemClock
from journeyflow.commands._common import make_engine, plugin_registry
from journeyflow.exceptions import JourneyflowError
from journeyflow.store import tables as t
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from tests.service.fleet.harness import Worker, fill_inbox

procrastinate = pytest.importorskip("procrastinate", reason="procrastinate is not installed")

from journeyflow.service.fleet.feeder import Feeder  # noqa: E402
from journeyflow.service.fleet.jobs import FleetJobs, cadence_cron  # noqa: E402
from journeyflow.service.fleet.jobschema import install_job_schema, libpq_url  # noqa: E402

JOURNEY = """\
journey: parts
version: 1
entry: {on: [signed_up]}
initial: waiting
states:
  waiting:
    transitions:
      - {after: 1s, to: done}
  done: {final: true}
"""


def signups(customers: range, when: datetime) -> list[dict[str, object]]:
    return [
        {
            "type": "track",
            "event": "signed_up",
            "userId": f"c{c}",
            "messageId": f"s{c}",
            "timestamp": when.isoformat(),
        }
        for c in customers
    ]


def test_workers_starting_together_install_the_job_tables_once(pg_url: str) -> None:
    code = (
        "import sys; from journeyflow.service.fleet.jobschema import install_job_schema; "
        "print(install_job_schema(sys.argv[1]))"
    )
    conninfo = libpq_url(pg_url)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, conninfo], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert sorted(outputs) == ["False", "False", "False", "True"]
    assert install_job_schema(conninfo) is False  # and a later start finds them
    db = create_engine(pg_url)
    with db.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    db.dispose()


def test_two_feeders_defer_one_job_per_waiting_shard_and_one_for_the_timers(
    pg_url: str, tmp_path: Path
) -> None:
    (tmp_path / "parts.yaml").write_text(JOURNEY)
    conninfo = libpq_url(pg_url)
    store = SqlStore(pg_url)  # journeyflow's schema first, as a worker starts
    install_job_schema(conninfo)
    engine = make_engine([str(tmp_path)], store, SystemClock())
    # a signup an hour old: its 1-second timer is overdue
    engine.ingest(signups(range(1), datetime.now(timezone.utc) - timedelta(hours=1)))
    now = datetime.now(timezone.utc)
    fill_inbox(pg_url, signups(range(1, 40), now), now)
    waiting = Inbox(store).waiting_shards()
    assert 1 < len(waiting) < 39  # several shards, some with more than one customer
    registry = plugin_registry()

    async def look_twice() -> None:
        pair = [
            FleetJobs(conninfo, engine, Inbox(store), registry, batch_size=100, segments_every=None)
            for _ in range(2)
        ]
        async with pair[0].app.open_async(), pair[1].app.open_async():
            feeders = [Feeder(jobs, jobs.inbox, store, poll=1.0) for jobs in pair]
            for _ in range(3):
                await asyncio.gather(*(feeder.look() for feeder in feeders))

    asyncio.run(look_twice())
    db = create_engine(pg_url)
    with db.connect() as conn:
        jobs = conn.execute(
            text("SELECT task_name, lock, queueing_lock, status FROM procrastinate_jobs")
        ).all()
    db.dispose()
    store.close()
    shard_jobs = sorted(j.lock for j in jobs if j.task_name == "journeyflow.apply_shard")
    assert shard_jobs == sorted(f"shard:{n}" for n in waiting)
    assert all(j.queueing_lock == j.lock and j.status == "todo" for j in jobs)
    assert [j.lock for j in jobs if j.task_name == "journeyflow.fire_timers"] == ["timers"]


def test_sigterm_lets_the_running_job_finish_and_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "parts.yaml").write_text(JOURNEY)
    total = 20_000
    now = datetime.now(timezone.utc)
    fill_inbox(pg_url, signups(range(total), now), now)
    args = ["--database", pg_url, "--journeys", str(journeys), "--log-format", "console"]
    args += ["--no-deliver", "--segments-every", "off"]
    logs = tmp_path / "logs"
    logs.mkdir()
    db = create_engine(pg_url)

    def counts() -> tuple[int, int]:
        with db.connect() as conn:
            applied = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
            waiting = conn.execute(select(func.count()).select_from(t.inbox)).scalar_one()
        return applied, waiting

    worker = Worker(0, args, {}, logs)
    try:
        deadline = time.monotonic() + 60
        while counts()[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.stop() == 0, worker.tail()
        applied, waiting = counts()
        assert 0 < applied < total  # stopped half-way through the inbox...
        assert applied + waiting == total  # ...with every batch applied whole or not at all
        worker.start()  # a restart takes the rest
        deadline = time.monotonic() + 120
        while counts()[1] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert counts() == (total, 0)
        assert worker.stop() == 0, worker.tail()
        with db.connect() as conn:
            left = conn.execute(
                text("SELECT status, task_name FROM procrastinate_jobs WHERE status <> 'todo'")
            ).all()
        # finished jobs are deleted (journeyflow's tables say what was done), and
        # none is left running; what waits ('todo') is for the next worker
        assert left == []
    finally:
        if worker.alive():
            worker.kill()
        db.dispose()


@pytest.mark.parametrize(
    ("every", "cron"),
    [
        (timedelta(seconds=30), "* * * * * */30"),
        (timedelta(minutes=15), "*/15 * * * * 0"),
        (timedelta(hours=6), "0 */6 * * * 0"),
        (timedelta(days=1), "0 0 * * * 0"),
    ],
)
def test_segment_cadences_on_the_clock_grid_become_crons(every: timedelta, cron: str) -> None:
    import croniter  # type: ignore[import-untyped]

    assert cadence_cron(every) == cron
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ticks = croniter.croniter(cron, start)
    first, second = ticks.get_next(datetime), ticks.get_next(datetime)
    assert second - first == every


@pytest.mark.parametrize("every", [timedelta(minutes=7), timedelta(hours=5), timedelta(days=2)])
def test_a_cadence_off_the_grid_is_refused_in_one_line(every: timedelta) -> None:
    with pytest.raises(JourneyflowError) as caught:
        cadence_cron(every)
    assert "\n" not in str(caught.value) and "divisor" in str(caught.value)


def test_each_segment_period_runs_once_across_two_workers(pg_url: str, tmp_path: Path) -> None:
    """Two workers, segments every 2 s (the installed segmenters): each
    period's run happens on one worker only."""
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "parts.yaml").write_text(JOURNEY)
    args = ["--database", pg_url, "--journeys", str(journeys), "--log-format", "json"]
    args += ["--no-deliver", "--segments-every", "2s"]
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = [Worker(n, args, {}, logs) for n in range(2)]
    try:
        deadline = time.monotonic() + 120
        while not all(w.ready() for w in workers):
            assert time.monotonic() < deadline, "\n".join(w.tail() for w in workers)
            time.sleep(0.1)
        time.sleep(9)
        assert [w.stop() for w in workers] == [0, 0], "\n".join(w.tail() for w in workers)
    finally:
        for worker in workers:
            if worker.alive():
                worker.kill()
    periods = [
        record["at"]
        for worker in workers
        for line in worker.log.read_text().splitlines()
        if line.startswith("{")
        for record in [json.loads(line)]
        if record.get("event") == "segments recomputed"
    ]
    assert len(periods) >= 3  # every 2 s for 9 s
    assert len(set(periods)) == len(periods)  # none ran on both workers
