"""Several writers on one database, and the SQL store's customer cache.

On SQLite every unit of work takes the write lock when it starts (BEGIN
IMMEDIATE); on PostgreSQL it claims its customers as it loads them (advisory
locks). Either way, what it reads is what it overwrites; the cache of recently
moved customers (SQLite) is dropped whenever another connection has committed.
A lost update shows up as two transitions with the same sequence number: the
same effect key, so an outbox row too few; a timer fired twice, as a count of
fired timers above the number due.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import create_engine, text

from journeyflow.runtime.engine import Engine
from journeyflow.store.sql import SqlStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, identify, track
from tests.journeys import LAPSE, REPEAT


def _counts(url: str) -> tuple[dict[str, int], dict[str, int], int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        seqs = {r[0]: r[1] for r in conn.execute(text("select customer_id, seq from enrolments"))}
        history = {
            r[0]: r[1]
            for r in conn.execute(
                text("select customer_id, count(distinct seq) from history group by 1")
            )
        }
        outbox = conn.execute(text("select count(*) from outbox")).scalar_one()
    engine.dispose()
    return seqs, history, outbox


def test_two_stores_on_one_file_see_each_others_commits(
    tmp_path: Path, journeyflow_engine: EngineFactory
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = journeyflow_engine(REPEAT, store=url)
    second = journeyflow_engine(REPEAT, store=url)
    first.ingest([track("ann", "order_completed", "2026-01-02T00:00:00Z")])
    second.ingest([track("ann", "order_completed", "2026-01-03T00:00:00Z")])
    # `first` moved ann last at seq 0; it must read seq 1 back, not trust its cache
    first.ingest([track("ann", "order_completed", "2026-01-04T00:00:00Z")])
    seqs, history, outbox = _counts(url)
    assert seqs == {"ann": 2}
    assert history == {"ann": 3}
    assert outbox == 3


def test_two_processes_ingesting_the_same_customers_lose_nothing(
    tmp_path: Path, shared_url: str
) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "repeat.yaml").write_text(REPEAT)
    customers = [f"c{i}" for i in range(20)]
    files = []
    for writer in range(2):
        path = tmp_path / f"events-{writer}.jsonl"
        lines = [
            json.dumps(
                track(
                    customers[n % len(customers)],
                    "order_completed",
                    f"2026-02-01T{n // 60 % 24:02d}:{n % 60:02d}:{writer:02d}Z",
                )
            )
            for n in range(300)
        ]
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    url = shared_url
    SqlStore(url).close()  # schema first, so the two do not race to create it
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "journeyflow.cli",
                "ingest",
                str(path),
                "--journeys",
                str(journeys),
                "--database",
                url,
                "--batch-size",
                "7",
                "--no-timers",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for path in files
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        assert "300 applied" in out.decode()
    seqs, history, outbox = _counts(url)
    assert outbox == 600  # one thank-you per order: no effect key was reused
    assert sum(history.values()) == 600
    # each customer's transitions are numbered 0..n-1 without a gap or a repeat
    assert {c: seqs[c] + 1 for c in customers} == history


def test_cache_stays_within_its_bound(tmp_path: Path, journeyflow_engine: EngineFactory) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'b.db'}", cache_customers=3)
    engine = journeyflow_engine(REPEAT, store=store)
    engine.ingest([track(f"c{i}", "order_completed", "2026-01-02T00:00:00Z") for i in range(10)])
    assert len(store.cache) == 3
    engine.ingest([track("c0", "order_completed", "2026-01-03T00:00:00Z")])
    assert [e.seq for e in engine.enrolments("c0")] == [1]


def test_a_rolled_back_unit_of_work_leaves_no_trace_in_the_cache(
    tmp_path: Path, journeyflow_engine: EngineFactory
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'r.db'}")
    engine = journeyflow_engine(REPEAT, store=store)
    engine.ingest([identify("ann", "2026-01-02T00:00:00Z", plan="basic")])
    uow = store.unit_of_work()
    uow.load(["ann"])
    uow.customer("ann").attributes["plan"] = "changed, then rolled back"
    uow.enrolments("ann")  # nothing to see: no order yet
    uow.rollback()
    engine.ingest([identify("ann", "2026-01-03T00:00:00Z", seen=True)])
    customer = engine.customer("ann")
    assert customer is not None
    assert customer.attributes == {"plan": "basic", "seen": True}


def test_cache_can_be_turned_off(tmp_path: Path, journeyflow_engine: EngineFactory) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'o.db'}", cache_customers=0)
    engine = journeyflow_engine(REPEAT, store=store)
    engine.ingest([track("ann", "order_completed", "2026-01-02T00:00:00Z")])
    engine.ingest([track("ann", "order_completed", "2026-01-03T00:00:00Z")])
    assert len(store.cache) == 0
    assert [e.seq for e in engine.enrolments("ann")] == [1]


def test_two_workers_firing_the_same_timers_fire_each_once(
    shared_url: str, journeyflow_engine: EngineFactory
) -> None:
    customers = [f"c{i}" for i in range(120)]
    SqlStore(shared_url).close()
    loader = journeyflow_engine(LAPSE, store=shared_url)
    loader.ingest([track(c, "order_completed", "2026-01-02T00:00:00Z") for c in customers])
    loader.store.close()
    # two engines, each with its own store (own connections, own cache), both
    # told to fire everything due, in small batches so their work interleaves
    workers = [journeyflow_engine(LAPSE, store=shared_url) for _ in range(2)]
    for worker in workers:
        worker.batch_size = 7
    fired: list[int] = []
    errors: list[BaseException] = []

    def fire(worker: Engine) -> None:
        try:
            fired.append(worker.advance_to(at("2026-03-01T00:00:00Z")))
        except BaseException as exc:  # surfaced below, with the other worker's result
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(fired) == len(customers)  # between them, each timer once
    seqs, history, outbox = _counts(shared_url)
    assert outbox == len(customers)
    # per customer: enter (seq 0), then the timer's transition and the completion
    # it causes (seq 1); the enrolment row agrees with its history
    assert history == {c: 2 for c in customers}
    assert seqs == {c: 1 for c in customers}
    for worker in workers:
        worker.store.close()
