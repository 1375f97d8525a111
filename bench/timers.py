"""Timer firing cost: `Engine.advance_to(T)` firing the same number of due timers
among few enrolments and among many.

* small: `due` enrolments, every one due by T.
* large: `total` enrolments; `due` of them (every total/due-th customer, spread
  through the table) are due by T, the rest far in the future (T+30d..T+365d).

Both databases are built the same way and cached under bench/.cache/: the engine
writes one template customer/enrolment (so the row format is the engine's own:
`timers` JSON `[[index, iso]]`, `next_due_at`, status active, the journey version
registered), and the rows are bulk-inserted with SQLAlchemy Core. Each timing
copies the cached file to a scratch file and runs in a fresh process; only
`advance_to` is timed. Each due timer moves `active -> lapsed`: one history
row, one outbox row, one enrolment update.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import common

FORMAT = 2  # bump when the way the cached databases are built changes
T_FIRE = common.T0 + timedelta(days=200)  # advance_to(T_FIRE) fires exactly the due timers
CHUNK = 20_000
REPEATS = 5  # single runs of the large case vary by +-20% here: report medians


def _cache_key(total: int, due: int) -> str:
    from journeyflow.store import tables as t

    versions = sorted(
        p.name for p in (Path(t.__file__).parent / "migrations" / "versions").glob("*.py")
    )
    schema = [
        (
            tb.name,
            [(c.name, str(c.type)) for c in tb.columns],
            sorted(ix.name or "" for ix in tb.indexes),
        )
        for tb in t.metadata.sorted_tables
    ]
    blob = json.dumps(
        [FORMAT, total, due, common.JOURNEY_YAML, versions, schema, T_FIRE.isoformat()]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _template() -> tuple[dict[str, Any], dict[str, Any]]:
    """One customer and one enrolment row exactly as the engine writes them."""
    from sqlalchemy import select

    from journeyflow.clock import VirtualClock
    from journeyflow.runtime.engine import Engine
    from journeyflow.store import tables as t
    from journeyflow.store.sql import SqlStore

    path = common.fresh_db("template.db")
    store = SqlStore(f"sqlite:///{path}")
    engine = Engine([common.load_journey()], store, VirtualClock(common.T0))
    engine.ingest(list(common.events(1, 1)))
    with store.engine.connect() as conn:
        customer = dict(conn.execute(select(t.customers)).one()._mapping)
        enrolment = dict(conn.execute(select(t.enrolments)).one()._mapping)
    store.close()
    common.remove_db(path)
    # the engine's row format, checked so a format change fails loudly here
    ((_index, iso),) = enrolment["timers"]
    due = enrolment["entered_at"] + timedelta(days=120)
    assert enrolment["next_due_at"] == due, enrolment
    assert iso == due.replace(tzinfo=common.T0.tzinfo).isoformat(), enrolment
    assert enrolment["status"] == "active" and enrolment["state"] == "active", enrolment
    return customer, enrolment


def build(total: int, due: int) -> dict[str, Any]:
    """Child: build (or reuse) the cached database; return its path and build time."""
    key = _cache_key(total, due)
    path = common.CACHE / f"timers-{total}-{due}-{key}.db"
    if path.exists():
        return {
            "path": str(path),
            "cached": True,
            "build_s": 0.0,
            "size_mb": round(path.stat().st_size / 2**20, 1),
        }
    for old in common.CACHE.glob(f"timers-{total}-{due}-*.db"):
        common.remove_db(old)
    started = time.perf_counter()
    from sqlalchemy import insert, text

    from journeyflow.clock import VirtualClock
    from journeyflow.runtime.engine import Engine
    from journeyflow.store import tables as t
    from journeyflow.store.sql import SqlStore

    customer_tpl, enrolment_tpl = _template()
    ((index, _),) = enrolment_tpl["timers"]
    common.CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.building")  # another run may build it too
    common.remove_db(tmp)
    store = SqlStore(f"sqlite:///{tmp}")  # schema by the migrations, as in production
    Engine([common.load_journey()], store, VirtualClock(common.T0))  # registers the version
    every = total // due
    rnd = random.Random(7)
    bar = common.progress(total, f"building {total:,}-enrolment db", unit="row")
    for start in range(0, total, CHUNK):
        customers, enrolments = [], []
        for i in range(start, min(total, start + CHUNK)):
            cid = common.customer_id(i)
            if i % every == 0 and i // every < due:
                due_at = T_FIRE - timedelta(seconds=rnd.randrange(1, 86_400))
            else:
                due_at = T_FIRE + timedelta(days=30, seconds=rnd.randrange(335 * 86_400))
            entered = due_at - timedelta(days=120)
            customers.append({**customer_tpl, "id": cid})
            enrolments.append(
                {
                    **enrolment_tpl,
                    "id": f"{common.JOURNEY_ID}:{cid}:1",
                    "customer_id": cid,
                    "entered_at": entered.replace(tzinfo=None),
                    "started_at": entered.replace(tzinfo=None),
                    "timers": [[index, due_at.isoformat()]],
                    "next_due_at": due_at.replace(tzinfo=None),
                }
            )
        with store.engine.begin() as conn:
            conn.execute(insert(t.customers), customers)
            conn.execute(insert(t.enrolments), enrolments)
        bar.update(len(customers))
    bar.close()
    with store.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    store.close()
    if path.exists():  # another run finished the same build first
        common.remove_db(tmp)
        return {
            "path": str(path),
            "cached": True,
            "build_s": 0.0,
            "size_mb": round(path.stat().st_size / 2**20, 1),
        }
    tmp.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return {
        "path": str(path),
        "cached": False,
        "build_s": round(time.perf_counter() - started, 1),
        "size_mb": round(path.stat().st_size / 2**20, 1),
    }


def fire(cached: str, total: int, due: int, profile: str | None = None) -> dict[str, Any]:
    """Child: copy the cached database, then time `advance_to(T_FIRE)`."""
    from sqlalchemy import func, select

    from journeyflow.clock import VirtualClock
    from journeyflow.runtime.engine import Engine
    from journeyflow.store import tables as t
    from journeyflow.store.sql import SqlStore

    path = common.fresh_db(f"timers-{total}.db")
    shutil.copyfile(cached, path)
    store = SqlStore(f"sqlite:///{path}")
    engine = Engine([common.load_journey()], store, VirtualClock(T_FIRE - timedelta(days=2)))
    timed = common.Timed(
        common.uow_class(store), ("due_customers", "load", "customer", "enrolments", "commit")
    )
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    started = time.perf_counter()
    cpu = time.process_time()
    fired = engine.advance_to(T_FIRE)
    cpu = time.process_time() - cpu
    seconds = time.perf_counter() - started
    if prof is not None and profile:
        import pstats

        prof.disable()
        with open(profile, "w") as fh:
            fh.write(f"# cProfile of Engine.advance_to: {due} due among {total} enrolments\n")
            pstats.Stats(prof, stream=fh).sort_stats("cumulative").print_stats(30)
    with store.engine.connect() as conn:
        history = conn.execute(select(func.count()).select_from(t.history)).scalar_one()
        outbox = conn.execute(select(func.count()).select_from(t.outbox)).scalar_one()
        left = conn.execute(
            select(func.count())
            .select_from(t.enrolments)
            .where(t.enrolments.c.next_due_at <= T_FIRE.replace(tzinfo=None))
        ).scalar_one()
    store.close()
    common.remove_db(path)
    assert fired == due == history == outbox and left == 0, (fired, due, history, outbox, left)
    return {
        "enrolments": total,
        "due": due,
        "fired": fired,
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu, 3),
        "timers_per_s": common.rate(fired, seconds),
        "unit_of_work_s": timed.report(),
    }


def run(due: int, total: int, repeats: int = REPEATS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(
        f"  timers: {due:,} due among {due:,} vs among {total:,} enrolments, "
        f"{repeats} runs each, alternating",
        flush=True,
    )
    sizes = {"small": due, "large": total}
    built = {}
    for label, size in sizes.items():
        built[label] = common.run_child("timers", "build", total=size, due=due)
        note = "cached" if built[label]["cached"] else f"built in {built[label]['build_s']} s"
        print(f"    {size:>9,}-enrolment db: {built[label]['size_mb']} MB ({note})", flush=True)
    # alternate small and large so a change in machine load hits both alike
    runs: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
    for _ in range(repeats):
        for label, size in sizes.items():
            res = common.run_child(
                "timers", "fire", cached=built[label]["path"], total=size, due=due
            )
            runs[label].append(res)
            print(
                f"    advance_to fires {res['fired']:,} among {size:,}: "
                f"{res['seconds']:.2f} s ({res['timers_per_s']:,.0f} timers/s)",
                flush=True,
            )
    for label in sizes:
        out[label] = {
            **common.median_run(runs[label], "seconds"),
            "db": {
                **built[label],
                "path": str(Path(built[label]["path"]).relative_to(common.ROOT)),
            },
        }
        out[f"{label}_runs_s"] = [r["seconds"] for r in runs[label]]
    out["ratio_runs"] = [
        round(lg["seconds"] / sm["seconds"], 2)
        for sm, lg in zip(runs["small"], runs["large"], strict=True)
    ]
    out["ratio_large_small"] = round(out["large"]["seconds"] / out["small"]["seconds"], 2)
    out["ratio_large_small_cpu"] = round(out["large"]["cpu_s"] / out["small"]["cpu_s"], 2)
    due_s = {k: out[k]["unit_of_work_s"]["due_customers"]["seconds"] for k in ("small", "large")}
    out["due_query_s"] = due_s
    out["ratio_without_due_query"] = round(
        (out["large"]["seconds"] - due_s["large"]) / (out["small"]["seconds"] - due_s["small"]), 2
    )
    print(
        f"    of which the due-timer query (uow.due_customers): {due_s['small']:.2f} s vs "
        f"{due_s['large']:.2f} s; ratio without it "
        f"{out['ratio_without_due_query']:.2f}x",
        flush=True,
    )
    out["target_max"] = 2.0
    out["meets_target"] = out["ratio_large_small"] <= 2.0
    return out
