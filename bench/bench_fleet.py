"""PostgreSQL fleet: apply throughput with 1, 2 and 4 `--worker` processes, and
how late due timers fire while events arrive at a steady rate.

    .venv/bin/python bench/bench_fleet.py                      # 100k events; 1, 2, 4 workers
    .venv/bin/python bench/bench_fleet.py --events 20000 --workers 1 --workers 2
    .venv/bin/python bench/bench_fleet.py --only timers --rate 500 --seconds 30

Needs the machine's PostgreSQL (127.0.0.1:5432, trust auth); each run gets a
fresh database, dropped afterwards.

* throughput: the workers start on an empty database and report ready; then
  `events` accepted events (the throughput benchmark's stream: orders from
  `customers` customers, re-dated to the last 30 days so no timer is due)
  are committed to the inbox in one transaction (the rows the HTTP ingest
  writes), and the workers drain it. Rate = events / (last event applied - first
  event applied), from the events table's `processed_at`; the wait before the
  first one (a feeder's poll: no HTTP nudge here) is reported apart.
* timers: `workers` workers; every 100 ms `rate / 10` new customers sign up
  (committed to the inbox), each with a timer due `delay` seconds after its
  signup. A watcher reads the new timer transitions from `history` every 20
  ms; lateness = when it saw the row - the timer's due time (the row's `at`),
  so it over-states by up to the watcher's period.

Workers are `journeyflow run --worker --no-http --no-deliver` child
processes (the installed command: it runs this checkout's sources in the
dev environment, not BENCH_SRC).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = common.BENCH / "results-fleet.json"

TIMER_JOURNEY = """\
journey: bench-timers
version: 1
entry: {on: [signed_up]}
initial: waiting
states:
  waiting:
    transitions:
      - {after: DELAYs, to: reminded}
  reminded:
    transitions:
      - {after: 30d, to: done}
  done: {final: true}
"""


# --- the database and the workers ----------------------------------------------


def fresh_database() -> str:
    from sqlalchemy import create_engine, text

    name = f"jf_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
    admin.dispose()


class Fleet:
    """`n` worker processes on `url`, their logs under `folder`."""

    def __init__(self, url: str, journeys: Path, folder: Path, n: int, *extra: str) -> None:
        self.logs = [folder / f"worker-{i}.log" for i in range(n)]
        command = [str(Path(sys.executable).with_name("journeyflow")), "run", "--worker"]
        command += ["--no-http", "--no-deliver", "--segments-every", "off", "--database", url]
        command += ["--journeys", str(journeys), "--log-format", "console", *extra]
        self.procs = []
        for log in self.logs:
            with log.open("w") as out:
                self.procs.append(subprocess.Popen(command, stderr=out, stdout=out))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("fleet worker ready" in log.read_text() for log in self.logs):
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.1)
        raise RuntimeError("workers did not start:\n" + "\n".join(p.read_text() for p in self.logs))

    def stop(self) -> list[int | None]:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        return [p.wait(timeout=60) for p in self.procs]


class Acceptor:
    """Commits events to the inbox as the HTTP ingest does: checked, then one
    transaction per call."""

    def __init__(self, url: str, shards: int = 64) -> None:
        from journeyflow.store.sql import SqlStore
        from journeyflow.store.sql.inbox import Inbox

        self.store = SqlStore(url)
        self.inbox = Inbox(self.store, shards)

    def accept(self, raws: list[dict[str, Any]]) -> float:
        """Commit `raws`; the wall-clock time of the commit (epoch seconds)."""
        from journeyflow.events import Invalid, check_event

        now = datetime.now(timezone.utc)
        items = []
        for raw in raws:
            event = check_event(raw, now)
            assert not isinstance(event, Invalid), event
            items.append((event, raw))
        self.inbox.add(items, now)
        return time.time()

    def accept_at_once(self, raws: list[dict[str, Any]]) -> float:
        """Commit `raws` in one transaction, the rows `Inbox.add` writes, so
        every worker finds them all at the same moment (`Inbox.add` itself
        claims an advisory lock per messageId: tens of thousands in one
        transaction overflow PostgreSQL's lock table); the commit's time."""
        import orjson

        from journeyflow.events import Invalid, check_event
        from journeyflow.store import tables as t

        now = datetime.now(timezone.utc)
        rows = []
        for raw in raws:
            event = check_event(raw, now)
            assert not isinstance(event, Invalid), event
            rows.append(
                {
                    "message_id": event.message_id,
                    "customer_id": event.customer_id,
                    "shard": self.inbox.shard_of(event.customer_id),
                    "received_at": now.replace(tzinfo=None),
                    "raw": orjson.dumps(raw),
                }
            )
        with self.store.engine.begin() as conn:
            conn.execute(t.inbox.insert(), rows)
        return time.time()

    def close(self) -> None:
        self.store.close()


def cpu_seconds(marker: bytes, pids: list[int] | None = None) -> dict[int, float]:
    """CPU seconds (user + system) so far of the processes whose command line
    holds `marker` (PostgreSQL backends show their database there), or of `pids`."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (pids is not None and int(entry) not in pids):
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if pids is not None or marker in command:
            found[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_seconds` readings (new processes whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


# what the engine keeps per event: its tables with their indexes and TOAST
STORED_BYTES = """
SELECT sum(pg_total_relation_size(c))
  FROM unnest(ARRAY['events', 'history', 'outbox', 'enrolments', 'customers']) AS c
"""

# --- throughput ------------------------------------------------------------------


def stream(n: int, customers: int) -> list[dict[str, Any]]:
    """The throughput benchmark's orders, re-dated to end now: no 120-day timer
    is due while they are applied."""
    now = datetime.now(timezone.utc)
    shift = now - common.STREAM_SPAN - common.T0
    out = []
    for raw in common.events(n, customers):
        when = datetime.fromisoformat(raw["timestamp"]) + shift
        out.append({**raw, "timestamp": when.isoformat()})
    return out


def throughput(events: int, customers: int, workers: int, shards: int = 64) -> dict[str, Any]:
    from sqlalchemy import create_engine, func, select, text

    from journeyflow.store import tables as t

    url = fresh_database()
    raws = stream(events, customers)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "journeys").mkdir()
            (folder / "journeys" / "bench.yaml").write_text(common.JOURNEY_YAML)
            fleet = Fleet(url, folder / "journeys", folder, workers, "--shards", str(shards))
            fleet.wait_ready()
            database = url.rsplit("/", 1)[1].encode()
            pids = [p.pid for p in fleet.procs]
            acceptor = Acceptor(url, shards)
            wal = create_engine(url)
            with wal.connect() as conn:
                wal_before = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
            pg_before = cpu_seconds(b" " + database + b" ")
            workers_before = cpu_seconds(b"", pids)
            committed = acceptor.accept_at_once(raws)
            acceptor.close()
            db = create_engine(url)
            with db.connect() as conn:
                while conn.execute(select(func.count()).select_from(t.inbox)).scalar_one():
                    time.sleep(0.2)
                    conn.rollback()
                pg_cpu = spent(pg_before, cpu_seconds(b" " + database + b" "))
                workers_cpu = spent(workers_before, cpu_seconds(b"", pids))
                wal_bytes = conn.execute(
                    text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :before)"),
                    {"before": wal_before},
                ).scalar_one()
                stored = conn.execute(text(STORED_BYTES)).scalar_one()
                first, last, applied = conn.execute(
                    select(
                        func.min(t.events.c.processed_at),
                        func.max(t.events.c.processed_at),
                        func.count(),
                    )
                ).one()
            wal.dispose()
            db.dispose()
            codes = fleet.stop()
    finally:
        drop_database(url)
    first = first.replace(tzinfo=timezone.utc).timestamp()
    last = last.replace(tzinfo=timezone.utc).timestamp()
    seconds = last - first
    return {
        "workers": workers,
        "events": events,
        "customers": customers,
        "applied": applied,
        "seconds": round(seconds, 2),
        "events_per_s": common.rate(applied, seconds),
        "first_applied_after_s": round(first - committed, 2),
        # CPU per event from the commit to the drained inbox (the commit's own
        # INSERTs are in PostgreSQL's share): what sizes a database server
        "postgres_cpu_us_per_event": round(1e6 * pg_cpu / applied),
        "workers_cpu_us_per_event": round(1e6 * workers_cpu / applied),
        # the whole cluster's WAL (others' databases too, on a shared server)
        "wal_bytes_per_event": round(float(wal_bytes) / applied),
        "stored_bytes_per_event": round(float(stored) / applied),
        "exit_codes": codes,
    }


# --- timer lateness -----------------------------------------------------------------


def timers(workers: int, rate: int, seconds: int, delay: int, shards: int = 64) -> dict[str, Any]:
    from sqlalchemy import create_engine, select

    from journeyflow.store import tables as t

    url = fresh_database()
    late: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "journeys").mkdir()
            journey = TIMER_JOURNEY.replace("DELAY", str(delay))
            (folder / "journeys" / "timers.yaml").write_text(journey)
            extra = ("--poll", "1s", "--shards", str(shards))
            fleet = Fleet(url, folder / "journeys", folder, workers, *extra)
            fleet.wait_ready()
            db = create_engine(url)
            acceptor = Acceptor(url, shards)
            seen = 0
            sent = 0
            per_tick = max(1, rate // 10)
            start = time.monotonic()
            next_tick = start
            end_feed = start + seconds
            end_watch = end_feed + delay + 10
            with db.connect() as conn:
                while time.monotonic() < end_watch:
                    now = time.monotonic()
                    if now >= next_tick and now < end_feed:
                        stamp = datetime.now(timezone.utc).isoformat()
                        batch = [
                            {
                                "type": "track",
                                "event": "signed_up",
                                "userId": f"t{sent + i}",
                                "messageId": f"s{sent + i}",
                                "timestamp": stamp,
                            }
                            for i in range(per_tick)
                        ]
                        acceptor.accept(batch)
                        sent += per_tick
                        next_tick += 0.1
                    rows = conn.execute(
                        select(t.history.c.id, t.history.c.at)
                        .where(t.history.c.id > seen, t.history.c.cause.like("timer%"))
                        .order_by(t.history.c.id)
                    ).all()
                    conn.rollback()
                    observed = time.time()
                    for row in rows:
                        seen = max(seen, row.id)
                        due = row.at.replace(tzinfo=timezone.utc).timestamp()
                        late.append(observed - due)
                    if len(late) >= sent and now >= end_feed:
                        break
                    time.sleep(0.02)
            db.dispose()
            acceptor.close()
            codes = fleet.stop()
    finally:
        drop_database(url)
    late.sort()

    def pct(p: float) -> float:
        return round(late[min(len(late) - 1, int(p * len(late)))], 3) if late else float("nan")

    return {
        "workers": workers,
        "rate": rate,
        "seconds": seconds,
        "signups": sent,
        "signups_per_s": round(sent / seconds, 1),
        "timers_seen": len(late),
        "lateness_s": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        "mean_s": round(statistics.fmean(late), 3) if late else None,
        "exit_codes": codes,
    }


# --- the command ---------------------------------------------------------------------


def run(
    events: int = 100_000,
    customers: int = 10_000,
    workers: tuple[int, ...] = (1, 2, 4),
    repeats: int = 1,
    rate: int = 500,
    seconds: int = 20,
    delay: int = 3,
    only: tuple[str, ...] = ("throughput", "timers"),
    shards: int = 64,
) -> dict[str, Any]:
    """Both measures; the dict run.py would keep under `fleet`."""
    result: dict[str, Any] = {"shards": shards}
    result["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    if "throughput" in only:
        # rounds of 1, 2, 4 workers in turn: a change in the machine's load
        # (it is shared) touches every count alike, and each round gives a ratio
        runs: dict[int, list[dict[str, Any]]] = {n: [] for n in workers}
        for _ in range(repeats):
            for n in workers:
                runs[n].append(throughput(events, customers, n, shards))
        result["throughput"] = {
            str(n): common.median_run(r, "events_per_s") for n, r in runs.items()
        }
        result["throughput_runs"] = {
            str(n): [x["events_per_s"] for x in r] for n, r in runs.items()
        }
        base = runs[workers[0]]
        ratios = {
            n: [a["events_per_s"] / b["events_per_s"] for a, b in zip(r, base, strict=True)]
            for n, r in runs.items()
        }
        result["speedup_runs"] = {str(n): [round(x, 2) for x in r] for n, r in ratios.items()}
        result["speedup"] = {str(n): round(statistics.median(r), 2) for n, r in ratios.items()}
    if "timers" in only:
        result["timers"] = timers(2, rate, seconds, delay, shards)
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--rate", type=int, default=500, help="signups/s in the timer run")
    parser.add_argument("--seconds", type=int, default=20, help="length of the timer run's load")
    parser.add_argument("--delay", type=int, default=3, help="seconds from signup to its timer")
    parser.add_argument("--only", action="append", choices=("throughput", "timers"))
    parser.add_argument("--shards", type=int, default=64, help="the workers' --shards")
    args = parser.parse_args()
    result = run(
        args.events,
        args.customers,
        tuple(args.workers or (1, 2, 4)),
        args.repeats,
        args.rate,
        args.seconds,
        args.delay,
        tuple(args.only or ("throughput", "timers")),
        args.shards,
    )
    print(json.dumps(result, indent=2))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
