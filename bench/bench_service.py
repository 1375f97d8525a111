"""`journeyflow run` on SQLite: HTTP ingest from the real Segment client against
`journeyflow ingest` of the same events, and how late timers fire under a
steady 1,000 events/s.

    .venv/bin/python bench/bench_service.py --quick      # 10k events, 20 s of load
    .venv/bin/python bench/bench_service.py              # 50k events, 60 s of load
    .venv/bin/python bench/run.py --only service         # the same, into results.json

* ingest: `events` Segment calls (identify and track, `customers` customers)
  against the repository's own `journeys/` folder, dated over the two hours
  before the run so no timer (the shortest is 1 day) falls due. (a) the
  command `journeyflow ingest FILE` on a fresh SQLite file, timed from start to
  exit (its imports, schema creation and loading of the journeys included);
  (b) `journeyflow run --no-deliver --segments-every off` on a fresh SQLite
  file, already ready, and the real `segment-analytics-python` client sending
  the same calls (same `messageId`s and timestamps), timed from the first
  call until the events table holds them all. The two alternate, `repeats`
  times each; the ratio is median HTTP / median ingest. Each HTTP run also
  says where its time went: the client's send phase (every batch answered
  200) and the engine's drain of the inbox after it.
* timers: a journey (written to a temporary folder) where each `signed_up`
  arms a timer due `delay` seconds later. New customers sign up at `rate`
  events/s (a batch to `/v1/batch` every 50 ms, httpx) for `seconds`; then
  we wait for every timer. Lateness comes from two places: the server's
  `journeyflow_timer_lateness_seconds` histogram (bucket resolution: the
  quantiles are interpolated inside buckets 0.05, 0.1, 0.25, 0.5, 1, 2 s ...)
  and a watcher reading new timer transitions from `history` every 20 ms
  (the store dates a timer's transition at its due time and records no
  firing time, so the watcher's lateness = when it saw the row - due time:
  exact to within its period, and it includes the commit).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

KEY = "bench-key"
JOURNEYS = common.ROOT / "journeys"
RESULTS = common.BENCH / "results-service.json"

TIMER_JOURNEY = """\
journey: bench-service-timers
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

# what customers do on a shop's site, by weight; each customer's first call is
# an identify (as a site does at sign-in) and some later calls identify again
TRACKS = (
    ("product_viewed", 30),
    ("order_completed", 18),
    ("email_opened", 14),
    ("cart_updated", 10),
    ("identify", 8),
    ("signed_up", 5),
    ("newsletter_subscribed", 5),
    ("lead_captured", 4),
    ("first_visit", 3),
    ("appointment_booked", 3),
)


# --- the events ------------------------------------------------------------------


def calls(n: int, customers: int, seed: int = 20261202) -> list[dict[str, Any]]:
    """`n` Segment calls from `customers` customers picked at random (seeded), in
    time order over the two hours before now (no journey timer is that short)."""
    rnd = random.Random(seed)
    names = [name for name, _ in TRACKS]
    weights = [w for _, w in TRACKS]
    end = datetime.now(timezone.utc) - timedelta(minutes=1)
    step = timedelta(hours=2) / n
    start = end - timedelta(hours=2)
    known: set[int] = set()
    out: list[dict[str, Any]] = []
    for i in range(n):
        c = rnd.randrange(customers)
        cid = common.customer_id(c)
        when = (start + step * i).isoformat()
        name = "identify" if c not in known else rnd.choices(names, weights)[0]
        known.add(c)
        if name == "identify":
            raw: dict[str, Any] = {
                "type": "identify",
                "traits": {
                    "email": f"{cid}@shop.example",
                    "first_name": f"Ana{c % 97}",
                    "plan": rnd.choice(["free", "pro"]),
                },
            }
        else:
            props: dict[str, Any] = {}
            if name == "order_completed":
                props = {"order_id": f"o{i:08d}", "total": round(rnd.uniform(5, 300), 2)}
            elif name in ("product_viewed", "cart_updated"):
                props = {"product_id": f"p{rnd.randrange(500)}", "price": rnd.randrange(5, 300)}
            elif name == "email_opened":
                props = {"campaign": rnd.choice(["welcome", "promo", "news"])}
            raw = {"type": "track", "event": name, "properties": props}
        raw.update({"messageId": f"m{i:08d}", "userId": cid, "timestamp": when})
        out.append(raw)
    return out


def write_jsonl(raws: list[dict[str, Any]], path: Path) -> None:
    with path.open("w") as fh:
        for raw in raws:
            fh.write(json.dumps(raw, separators=(",", ":")) + "\n")


def send_segment(client: Any, raw: dict[str, Any]) -> None:
    """One call through the Segment client, with the call's own id and time."""
    when = datetime.fromisoformat(raw["timestamp"])
    if raw["type"] == "identify":
        client.identify(raw["userId"], raw["traits"], timestamp=when, message_id=raw["messageId"])
    else:
        client.track(
            raw["userId"],
            raw["event"],
            raw["properties"],
            timestamp=when,
            message_id=raw["messageId"],
        )


# --- processes -------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of the journeyflow commands: the sources under test first."""
    env = {**os.environ, "JOURNEYFLOW_LOG_LEVEL": "info"}
    src = os.environ.get("BENCH_SRC") or str(common.SRC)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    env.pop("JOURNEYFLOW_DATABASE_URL", None)
    return env


def cpu_of(pid: int, task: int | None = None) -> float:
    """CPU seconds (user + system) a live process (or one of its threads) has used."""
    where = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    fields = Path(where).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a live process, by thread id."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(task)] = cpu_of(pid, int(task))
        except OSError:
            continue
    return out


class Server:
    """`journeyflow run` on a fresh SQLite file and a free loopback port, its URL
    read from the JSON "journeyflow run ready" line; its log goes to a file."""

    def __init__(self, db: Path, journeys: Path, *extra: str, profile: Path | None = None) -> None:
        self.db = db
        self.log = db.with_suffix(".log")
        launcher = ["-m", "journeyflow.cli"]
        if profile:  # every thread under cProfile, one stats file each (serve_profiled)
            launcher = [__file__, "serve-profiled", str(profile), "--"]
        command = [
            sys.executable, *launcher, "run",
            "--database", f"sqlite:///{db}",
            "--journeys", str(journeys),
            "--port", "0",
            "--write-key", KEY,
            "--segments-every", "off",
            "--no-deliver",
            "--grace", "120s",
            *extra,
        ]  # fmt: skip
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=out, env=child_env(), cwd=common.ROOT
            )
        self.url = self._wait_ready(90)

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    if record.get("event") == "journeyflow run ready" and record.get("url"):
                        return str(record["url"])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("journeyflow run did not start:\n" + self.log.read_text()[-3000:])

    def cpu(self) -> float:
        return cpu_of(self.proc.pid)

    def count(self, table: str, where: str = "") -> int:
        with sqlite3.connect(self.db, timeout=30) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])

    def metrics(self) -> str:
        import httpx

        return httpx.get(f"{self.url}/metrics", timeout=30).text

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(150)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples named exactly `name` (any labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def histogram(text: str, name: str) -> list[tuple[float, float]]:
    """A histogram's cumulative buckets: (upper bound, count), +Inf last."""
    out = []
    for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M):
        out.append((float(m.group(1)), float(m.group(2))))
    return sorted(out)


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket holding rank q."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower  # past the last finite bound: that bound is all we know
            inside = count - below
            return round(lower + (upper - lower) * ((rank - below) / inside if inside else 1), 3)
        lower, below = upper, count
    return None


# --- (1) HTTP ingest against `journeyflow ingest` ---------------------------------


def ingest_run(path: Path, n: int) -> dict[str, Any]:
    """`journeyflow ingest FILE` on a fresh SQLite file, start to exit."""
    db = common.fresh_db("ingest.db")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "journeyflow.cli",
            "ingest",
            "--journeys",
            str(JOURNEYS),
            "--database",
            f"sqlite:///{db}",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=common.ROOT,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0 or not proc.stdout.strip().startswith(f"{n} applied,"):
        raise RuntimeError(f"journeyflow ingest failed:\n{proc.stdout}\n{proc.stderr}")
    common.remove_db(db)
    return {
        "seconds": round(seconds, 3),
        "events_per_s": common.rate(n, seconds),
        "cpu_s": round(cpu, 2),
        "output": proc.stdout.strip().splitlines()[-1],
    }


def http_run(raws: list[dict[str, Any]], threads: int = 1, upload: int = 100) -> dict[str, Any]:
    """The same calls through the Segment client to `journeyflow run`, from the
    first call until all are applied; where the time went."""
    from segment.analytics import Client

    n = len(raws)
    server = Server(common.fresh_db("http.db"), JOURNEYS)
    errors: list[str] = []
    samples: list[tuple[float, int, int]] = []  # (seconds, applied, in inbox)
    done = threading.Event()
    try:
        cpu_before = server.cpu()
        threads_before = thread_cpu(server.proc.pid)
        client = Client(
            KEY,
            host=server.url,
            max_queue_size=2 * n,
            upload_size=upload,
            thread=threads,
            max_retries=50,
            on_error=lambda e, _batch: errors.append(str(e)),
        )
        started = time.perf_counter()
        own_cpu = time.process_time()

        def sample() -> None:
            while not done.is_set():
                samples.append(
                    (time.perf_counter() - started, server.count("events"), server.count("inbox"))
                )
                done.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for raw in raws:
            send_segment(client, raw)
        queued = time.perf_counter() - started
        client.flush()
        client.join()
        sent = time.perf_counter() - started
        client_cpu = time.process_time() - own_cpu
        applied_at_sent = server.count("events")
        deadline = time.monotonic() + 600
        while server.count("events") < n:
            if time.monotonic() > deadline or errors:
                raise RuntimeError(f"not all applied: {errors[:3]}")
            time.sleep(0.02)
        applied = time.perf_counter() - started
        done.set()
        sampler.join()
        cpu = server.cpu() - cpu_before
        threads = thread_cpu(server.proc.pid)
        text = server.metrics()
    finally:
        done.set()
        code = server.stop()
    common.remove_db(server.db)
    server.log.unlink(missing_ok=True)
    drain = applied - sent
    return {
        "seconds": round(applied, 3),
        "events_per_s": common.rate(n, applied),
        "server_cpu_s": round(cpu, 2),
        # the server's busiest threads (uvicorn's, the engine's, ...): a thread
        # near the wall time is the bottleneck; together they share one GIL
        "server_thread_cpu_s": sorted(
            (round(c - threads_before.get(t, 0.0), 2) for t, c in threads.items()), reverse=True
        )[:4],
        "client_cpu_s": round(client_cpu, 2),
        "client_queued_s": round(queued, 3),
        "client_sent_s": round(sent, 3),
        "send_events_per_s": common.rate(n, sent),
        "applied_when_sent": applied_at_sent,
        "drain_s": round(drain, 3),
        "drain_events_per_s": (
            common.rate(n - applied_at_sent, drain) if applied_at_sent < n else None
        ),
        "apply_rate_while_sending": common.rate(applied_at_sent, sent),
        "max_inbox_depth": max((s[2] for s in samples), default=0),
        "metrics": {
            "accepted": metric(text, "journeyflow_events_accepted_total"),
            "applied": metric(text, "journeyflow_events_applied_total"),
            "duplicate": metric(text, "journeyflow_events_duplicate_total"),
            "rejected": metric(text, "journeyflow_events_rejected_total"),
            "http_200": sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("journeyflow_http_requests_total{")
                and 'status="200"' in line
                and "batch" in line
            ),
        },
        "exit_code": code,
    }


def ingest_vs_http(n: int, customers: int, repeats: int) -> dict[str, Any]:
    raws = calls(n, customers)
    common.SCRATCH.mkdir(parents=True, exist_ok=True)
    path = common.SCRATCH / "service-events.jsonl"
    write_jsonl(raws, path)
    kinds = {}
    for raw in raws:
        key = raw.get("event", "identify")
        kinds[key] = kinds.get(key, 0) + 1
    print(f"  service/ingest: {n:,} calls from {customers:,} customers, journeys/", flush=True)
    ingests: list[dict[str, Any]] = []
    https: list[dict[str, Any]] = []
    for i in range(repeats):
        ingests.append(ingest_run(path, n))
        print(
            f"    journeyflow ingest #{i + 1}   {ingests[-1]['events_per_s']:>8,.0f} ev/s "
            f"({ingests[-1]['seconds']:.1f} s, {ingests[-1]['cpu_s']:.1f} cpu-s)",
            flush=True,
        )
        https.append(http_run(raws))
        h = https[-1]
        print(
            f"    HTTP (Segment client) #{i + 1} {h['events_per_s']:>8,.0f} ev/s "
            f"({h['seconds']:.1f} s; sent in {h['client_sent_s']:.1f} s, "
            f"{h['applied_when_sent']:,} applied by then, drain {h['drain_s']:.1f} s; "
            f"server {h['server_cpu_s']:.1f} cpu-s)",
            flush=True,
        )
    # a side line, not the ratio: the client's batches 5x larger (one run)
    bigger = http_run(raws, upload=500)
    print(
        f"    HTTP, upload_size=500       {bigger['events_per_s']:>8,.0f} ev/s "
        f"(server {bigger['server_cpu_s']:.1f} cpu-s)",
        flush=True,
    )
    path.unlink(missing_ok=True)
    # the command's fixed cost (imports, schema, journeys), which the HTTP
    # timing does not pay: the server is started and ready before it begins
    empty = common.SCRATCH / "service-empty.jsonl"
    empty.write_text("")
    startup = ingest_run(empty, 0)
    empty.unlink()
    print(f"    journeyflow ingest of an empty file: {startup['seconds']:.1f} s", flush=True)
    ing = common.median_run(ingests, "events_per_s")
    http = common.median_run(https, "events_per_s")
    ratio = round(http["events_per_s"] / ing["events_per_s"], 3)
    net = ing["seconds"] - startup["seconds"]
    return {
        "events": n,
        "customers": customers,
        "mix": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "ingest": ing,
        "http": http,
        "ingest_runs": [r["events_per_s"] for r in ingests],
        "http_runs": [r["events_per_s"] for r in https],
        "ratio_http_ingest": ratio,
        "ingest_empty_file": startup,
        "ingest_events_per_s_net_of_startup": common.rate(n, net),
        "ratio_http_ingest_net_of_startup": round(http["events_per_s"] * net / n, 3),
        "ratio_runs": [
            round(h["events_per_s"] / i["events_per_s"], 3)
            for h, i in zip(https, ingests, strict=True)
        ],
        "cpu_ratio_http_ingest": round(ing["cpu_s"] / http["server_cpu_s"], 3),
        # CPU per event once started: the server's (HTTP + inbox + engine
        # threads) against the command's net of its empty-file run
        "cpu_us_per_event": {
            "ingest_net_of_startup": round(1e6 * (ing["cpu_s"] - startup["cpu_s"]) / n, 1),
            "http_server": round(1e6 * http["server_cpu_s"] / n, 1),
            "http_server_upload_500": round(1e6 * bigger["server_cpu_s"] / n, 1),
            "http_client": round(1e6 * http["client_cpu_s"] / n, 1),
        },
        "target": 0.5,
        "meets_target": ratio >= 0.5,
        "http_runs_detail": https,
        "http_upload_500": bigger,
    }


# --- (2) timer lateness under a steady load ----------------------------------------


def timer_lateness(rate: int, seconds: int, delay: int) -> dict[str, Any]:
    import httpx

    folder = common.SCRATCH / "service-timers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timers.yaml").write_text(TIMER_JOURNEY.replace("DELAY", str(delay)))
    print(
        f"  service/timers: {rate:,} signups/s for {seconds} s, each a timer due {delay} s later",
        flush=True,
    )
    server = Server(common.fresh_db("timers.db"), folder)
    late: list[float] = []
    stop_watching = threading.Event()

    def watch() -> None:
        last = 0
        with sqlite3.connect(server.db, timeout=30) as conn:
            while not stop_watching.is_set():
                rows = conn.execute(
                    "SELECT id, at FROM history WHERE id > ? AND cause LIKE 'timer%' ORDER BY id",
                    (last,),
                ).fetchall()
                seen = time.time()
                for row_id, at in rows:
                    last = max(last, row_id)
                    due = datetime.fromisoformat(at)
                    due = due if due.tzinfo else due.replace(tzinfo=timezone.utc)
                    late.append(seen - due.timestamp())
                stop_watching.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    per_tick = max(1, rate // 20)
    posts: list[float] = []  # each batch's round trip
    sent = 0
    behind = 0.0
    failures = 0
    try:
        cpu_before = server.cpu()
        watcher.start()
        with httpx.Client(auth=(KEY, ""), timeout=30) as http:
            started = time.monotonic()
            tick = 0
            while time.monotonic() - started < seconds:
                due_at = started + tick * 0.05
                wait = due_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    behind = max(behind, -wait)
                batch = [
                    {
                        "type": "track",
                        "event": "signed_up",
                        "userId": f"t{sent + i:08d}",
                        "messageId": f"s{sent + i:08d}",
                    }
                    for i in range(per_tick)
                ]
                posted = time.monotonic()
                answer = http.post(f"{server.url}/v1/batch", json={"batch": batch})
                posts.append(time.monotonic() - posted)
                if answer.status_code == 200:
                    sent += per_tick
                else:
                    failures += 1
                tick += 1
            sending = time.monotonic() - started
        applied_at_end = server.count("events")
        deadline = time.monotonic() + delay + 120
        while len(late) < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        all_applied = time.monotonic() - started
        cpu = server.cpu() - cpu_before
        text = server.metrics()
    finally:
        stop_watching.set()
        code = server.stop()
    watcher.join(5)
    common.remove_db(server.db)
    server.log.unlink(missing_ok=True)
    late.sort()

    def pct(p: float) -> float | None:
        return round(late[min(len(late) - 1, int(p * len(late)))], 3) if late else None

    buckets = histogram(text, "journeyflow_timer_lateness_seconds")
    apply_buckets = histogram(text, "journeyflow_apply_seconds")
    p99_metric = quantile(buckets, 0.99)
    return {
        "rate_asked": rate,
        "delay_s": delay,
        "seconds": round(sending, 2),
        "signups_sent": sent,
        "sent_per_s": common.rate(sent, sending),
        "applied_by_end_of_load": applied_at_end,
        "applied_per_s_during_load": common.rate(applied_at_end, sending),
        "rate_reached": sent / sending >= 0.97 * rate and applied_at_end >= 0.97 * sent,
        "sender_most_behind_s": round(behind, 3),
        "post_round_trip_s": {
            "p50": round(statistics.median(posts), 4) if posts else None,
            "p99": round(sorted(posts)[int(0.99 * (len(posts) - 1))], 4) if posts else None,
            "max": round(max(posts), 3) if posts else None,
        },
        "non_200_batches": failures,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_share": round(cpu / all_applied, 2),
        "timers_fired_metric": metric(text, "journeyflow_timers_fired_total"),
        "lateness_metric_s": {
            "p50": quantile(buckets, 0.5),
            "p90": quantile(buckets, 0.9),
            "p99": p99_metric,
            "resolution": "bucket (0.05 0.1 0.25 0.5 1 2 5 s), interpolated",
            "buckets": {str(le): c for le, c in buckets},
        },
        "lateness_watcher_s": {
            "timers_seen": len(late),
            "p50": pct(0.5),
            "p90": pct(0.9),
            "p99": pct(0.99),
            "max": pct(1.0),
            "mean": round(statistics.fmean(late), 3) if late else None,
            "resolution": "history polled every 20 ms (over-states by up to that)",
        },
        "apply_latency_metric_s": {
            "p50": quantile(apply_buckets, 0.5),
            "p99": quantile(apply_buckets, 0.99),
        },
        "target_p99_s": 1.0,
        "meets_target": (pct(0.99) or 99.0) <= 1.0 and (p99_metric or 99.0) <= 1.0,
        "exit_code": code,
    }


# --- the part ------------------------------------------------------------------------


def run(
    events: int = 50_000,
    customers: int = 5_000,
    seconds: int = 60,
    rate: int = 1000,
    delay: int = 5,
    repeats: int = 3,
) -> dict[str, Any]:
    """Both measures; the dict run.py keeps under `service`."""
    return {
        "ingest": ingest_vs_http(events, customers, repeats),
        "timers": timer_lateness(rate, seconds, delay),
    }


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The part's lines in run.py's table: (measure, figure, note)."""
    ing, tm = result["ingest"], result["timers"]
    h = ing["http"]
    w, m = tm["lateness_watcher_s"], tm["lateness_metric_s"]
    runs = " / ".join(f"{r:,.0f}" for r in ing["ingest_runs"])
    http_runs = " / ".join(f"{r:,.0f}" for r in ing["http_runs"])
    return [
        (
            f"journeyflow run, SQLite ({ing['events']:,} calls / {ing['customers']:,} customers)",
            "",
            "",
        ),
        (
            "  journeyflow ingest FILE, start to exit",
            f"{ing['ingest']['events_per_s']:,.0f} ev/s",
            f"median of {runs}; empty file {ing['ingest_empty_file']['seconds']:.1f} s",
        ),
        (
            "  Segment client -> /v1/batch -> applied",
            f"{h['events_per_s']:,.0f} ev/s",
            f"median of {http_runs}; sent in {h['client_sent_s']:.1f} s, "
            f"drained {h['drain_s']:.1f} s after",
        ),
        (
            "  same, Segment upload_size=500 (one run)",
            f"{ing['http_upload_500']['events_per_s']:,.0f} ev/s",
            f"server CPU {ing['cpu_us_per_event']['http_server_upload_500']:.0f} us/event "
            f"vs {ing['cpu_us_per_event']['http_server']:.0f} at 100",
        ),
        (
            "  ratio HTTP / ingest",
            f"{ing['ratio_http_ingest']:.2f}",
            f"target >= 0.5: {'PASS' if ing['meets_target'] else 'FAIL'}; net of ingest's "
            f"startup {ing['ratio_http_ingest_net_of_startup']:.2f}; CPU "
            f"{ing['cpu_ratio_http_ingest']:.2f}",
        ),
        (
            f"  timer lateness at {tm['rate_asked']:,} signups/s ({tm['seconds']:.0f} s)",
            f"p99 {w['p99']} s",
            f"target <= 1 s: {'PASS' if tm['meets_target'] else 'FAIL'}; p50 {w['p50']} s, "
            f"max {w['max']} s; metric p99 {m['p99']} s (bucket); sent "
            f"{tm['sent_per_s']:,.0f}/s, applied {tm['applied_per_s_during_load']:,.0f}/s",
        ),
    ]


def summary(result: dict[str, Any]) -> str:
    rows = table_rows(result)
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w1}}  {b:>{w2}}  {c}".rstrip() for a, b, c in rows)


def serve_profiled(folder: str, argv: list[str]) -> int:
    """`journeyflow <argv>` with each thread (and the main one) under its own
    cProfile, dumped to `folder/<thread name>.prof` when the thread ends."""
    import cProfile
    import threading

    Path(folder).mkdir(parents=True, exist_ok=True)
    original = threading.Thread.run

    def profiled(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()
            prof.dump_stats(f"{folder}/{self.name}-{threading.get_ident()}.prof")

    threading.Thread.run = profiled  # type: ignore[method-assign]
    sys.argv = ["journeyflow", *argv]
    from journeyflow.cli import main as cli

    prof = cProfile.Profile()
    prof.enable()
    try:
        cli()
    except SystemExit as end:
        return int(end.code or 0)
    finally:
        prof.disable()
        prof.dump_stats(f"{folder}/main.prof")
    return 0


def profile_http(n: int, customers: int, folder: Path, top: int = 25) -> None:
    """One HTTP run with the server under cProfile; print where each thread's
    time went (cProfile inflates Python code, so read shares, not seconds)."""
    import pstats

    from segment.analytics import Client

    raws = calls(n, customers)
    server = Server(common.fresh_db("profiled.db"), JOURNEYS, profile=folder)
    try:
        client = Client(KEY, host=server.url, max_queue_size=2 * n, upload_size=100)
        started = time.perf_counter()
        for raw in raws:
            send_segment(client, raw)
        client.flush()
        client.join()
        while server.count("events") < n:
            time.sleep(0.05)
        print(f"{n:,} calls applied in {time.perf_counter() - started:.1f} s (profiled)")
    finally:
        server.stop()
    for path in sorted(folder.glob("*.prof")):
        stats = pstats.Stats(str(path))
        total = getattr(stats, "total_tt", 0.0)
        print(f"\n=== {path.name}: {total:.2f} s of profiled time")
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(12)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "serve-profiled":
        return serve_profiled(sys.argv[2], sys.argv[4:])
    if len(sys.argv) > 1 and sys.argv[1] == "profile":
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
        profile_http(n, max(1, n // 5), common.SCRATCH / "profile")
        return 0
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10k events, 20 s of load")
    ap.add_argument("--events", type=int)
    ap.add_argument("--customers", type=int)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--delay", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--head",
        action="store_true",
        help="measure a clean snapshot of the committed HEAD (as run.py --head)",
    )
    args = ap.parse_args()
    if args.head:
        import run as bench_run

        os.environ["BENCH_SRC"] = str(bench_run.snapshot_head().resolve())
    quick = args.quick
    result = run(
        events=args.events or (10_000 if quick else 50_000),
        customers=args.customers or (2_000 if quick else 5_000),
        seconds=args.seconds or (20 if quick else 60),
        rate=args.rate,
        delay=args.delay,
        repeats=args.repeats,
    )
    common.clean_scratch()
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
