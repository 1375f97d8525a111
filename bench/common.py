"""Shared pieces of the journeyflow benchmarks: the journey, the event stream,
fresh SQLite files, child processes and progress bars.

Every measurement runs in a fresh child process (`run_child`), so one
measurement's imports, caches and peak RSS never leak into the next.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
# Fresh databases of one run, deleted afterwards; one folder per run (run.py sets
# BENCH_SCRATCH for its children) so two runs at once never share a file.
SCRATCH = Path(os.environ.get("BENCH_SCRATCH") or CACHE / "scratch" / str(os.getpid()))

# The journeyflow sources under test: this checkout's src/, or BENCH_SRC (run.py
# --head sets it to a clean snapshot of HEAD, as others may be editing src/).
SRC = Path(os.environ.get("BENCH_SRC") or ROOT / "src")
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

# A realistic small journey: an order enrols the customer; each later order is a
# self-transition (exit + re-enter: the 120-day count restarts) whose on_enter sends
# a thank-you e-mail carrying a CEL value; 120 days without an order fires a timer.
# Every accepted order therefore writes exactly one event row, one history row
# (enter or transition) and one outbox row: the rows the bare baseline writes.
JOURNEY_YAML = """\
journey: bench-repeat-buyer
version: 1
title: Benchmark - thank every order, nudge after 120 quiet days
entry:
  on: [order_completed]
  reentry: after_exit
initial: active
states:
  active:
    on_enter:
      - send: email
        template: order-thanks
        data: {order_id: '=event.properties.order_id'}
    transitions:
      - on: order_completed
        to: active
      - after: 120d
        to: lapsed
  lapsed:
    on_enter:
      - send: email
        template: we-miss-you
    transitions:
      - on: order_completed
        to: active
"""
JOURNEY_ID = "bench-repeat-buyer"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
STREAM_SPAN = timedelta(days=30)  # every stream fits in 30 days: no 120d timer fires on ingest


def load_journey() -> Any:
    from journeyflow.definition.loader import load_text

    return load_text(JOURNEY_YAML, "<bench-repeat-buyer>")


def customer_id(i: int) -> str:
    return f"c{i:07d}"


def events(n: int, customers: int, seed: int = 20260101) -> Iterator[dict[str, Any]]:
    """`n` Segment-style `order_completed` calls from `customers` customers picked
    at random (seeded), in time order over `STREAM_SPAN`. Generated lazily."""
    rnd = random.Random(seed)
    step = STREAM_SPAN / n
    for i in range(n):
        yield {
            "type": "track",
            "messageId": f"m{i:08d}",
            "userId": customer_id(rnd.randrange(customers)),
            "event": "order_completed",
            "properties": {"order_id": f"o{i:08d}", "total": round(rnd.uniform(5, 300), 2)},
            "timestamp": (T0 + step * i).isoformat(),
        }


# --- files ---------------------------------------------------------------------


def fresh_db(name: str) -> Path:
    """A path for a new SQLite file under the scratch folder (any old one removed)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / name
    remove_db(path)
    return path


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def clean_scratch() -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """The pragmas SqlStore sets: WAL, synchronous=NORMAL."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# --- measuring -----------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 1024 / 1024


def progress(total: int, desc: str, unit: str = "ev") -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.5,
        file=sys.stderr,
        disable=os.environ.get("BENCH_NO_PROGRESS") == "1",
    )


def run_child(module: str, func: str, **kwargs: Any) -> dict[str, Any]:
    """Run `bench/<module>.py:<func>(**kwargs)` in a fresh interpreter; return its
    result (a JSON object). Progress bars go to our stderr."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        f"import {module} as m; r = m.{func}(**json.loads(sys.argv[2])); "
        "print('\\nRESULT ' + json.dumps(r))"
    )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(BENCH), json.dumps(kwargs)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout)
        raise RuntimeError(
            f"child {module}.{func}({kwargs}) failed with exit code {proc.returncode}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result.setdefault("wall_s", round(time.perf_counter() - started, 2))
    return result


def median_run(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run with the median `key` (an odd number of runs): a real run, with
    all its figures, not a blend of several."""
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def uow_class(store: Any) -> type:
    """The store's unit-of-work class, from `unit_of_work`'s return annotation
    (instantiating one would open a transaction)."""
    import typing

    return typing.get_type_hints(type(store).unit_of_work)["return"]  # type: ignore[no-any-return]


class Timed:
    """Wall time spent inside some methods of a class, summed over calls (outermost
    calls only, so a method calling another timed one is not counted twice)."""

    def __init__(self, cls: type, names: tuple[str, ...]) -> None:
        self.seconds = dict.fromkeys(names, 0.0)
        self.calls = dict.fromkeys(names, 0)
        self._depth = 0
        for name in names:
            setattr(cls, name, self._wrap(name, getattr(cls, name)))

    def _wrap(self, name: str, fn: Any) -> Any:
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            started = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += clock() - started
                self.calls[name] += 1
                self._depth -= 1

        return timed

    def report(self) -> dict[str, Any]:
        return {
            name: {"seconds": round(s, 3), "calls": self.calls[name]}
            for name, s in self.seconds.items()
        }
