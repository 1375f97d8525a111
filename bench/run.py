"""Run every journeyflow performance benchmark; print a table, write results JSON.

    .venv/bin/python bench/run.py            # full run (~15-20 min on 2 cores)
    .venv/bin/python bench/run.py --quick    # scaled down (~3 min)
    .venv/bin/python bench/run.py --only timers --only memory

See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "throughput": (100_000, 10_000),
        "profile": 20_000,
        "timers": (10_000, 1_000_000),
        "memory": ((100_000, 10_000), (1_000_000, 100_000)),
        "service": {"events": 50_000, "customers": 5_000, "seconds": 60},
    },
    "quick": {
        "throughput": (20_000, 2_000),
        "profile": 5_000,
        "timers": (2_000, 200_000),
        "memory": ((10_000, 1_000), (100_000, 10_000)),
        "service": {"events": 10_000, "customers": 2_000, "seconds": 20},
    },
}
PARTS = ("throughput", "timers", "memory", "service")


def machine() -> dict[str, Any]:
    import sqlite3

    import sqlalchemy

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
    }


def context() -> dict[str, Any]:
    """What a part was measured on: the sources, their commit, the machine's load."""
    import journeyflow

    src = Path(journeyflow.__file__).resolve().parent.parent
    if src.parent.name.startswith("head-"):  # a --head snapshot
        commit, dirty = src.parent.name[len("head-") :], False
    else:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=common.ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "src"],
                cwd=common.ROOT,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        )
    shown = src.relative_to(common.ROOT) if src.is_relative_to(common.ROOT) else src
    return {
        "git_head": commit,
        "src": str(shown),
        "src_has_uncommitted_changes": dirty,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def snapshot_head() -> Path:
    """HEAD's src/ extracted under bench/.cache/ (no worktree, no index change)."""
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=common.ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dest = common.CACHE / f"head-{sha[:12]}"
    if not (dest / "src" / "journeyflow").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "src"], cwd=common.ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    tp = results.get("throughput")
    if tp:
        rows.append(
            (f"Throughput ({tp['events']:,} events / {tp['customers']:,} customers)", "", "")
        )
        runs = " / ".join(f"{b['events_per_s']:,.0f}" for b in tp["baseline_runs"])
        rows.append(
            (
                "  floor: sqlite3 executemany + orjson, GC paused, 3 rows/event",
                f"{tp['baseline']['events_per_s']:,.0f} ev/s",
                f"median of {runs}",
            )
        )
        runs = " / ".join(f"{e['events_per_s']:,.0f}" for e in tp["engine_sql_runs"])
        rows.append(
            (
                "  engine + SqlStore (SQLite)",
                f"{tp['engine_sql']['events_per_s']:,.0f} ev/s",
                f"median of {runs}",
            )
        )
        rows.append(
            (
                "  ratio engine / floor",
                f"{tp['ratio_engine_baseline']:.3f}",
                f"target >= 0.5, stretch 0.8: "
                f"{'PASS' if tp['meets_target'] else 'FAIL'}; pairs "
                + " / ".join(f"{r:.2f}" for r in tp["ratio_runs"]),
            )
        )
        for label, key, rkey in (
            ("  floor + the enrolment row", "baseline_with_enrolments", "with_enrolments"),
            ("  SQLAlchemy Core baseline (earlier one)", "baseline_core", "core"),
            ("  Core baseline, GC paused per batch", "baseline_core_gc_paused", "core_gc_paused"),
        ):
            rows.append(
                (
                    label,
                    f"{tp[key]['events_per_s']:,.0f} ev/s",
                    f"engine / it: {tp['ratio_engine_baseline_' + rkey]:.3f}",
                )
            )
        nc = tp["engine_sql_nocache"]
        rows.append(
            (
                "  same, customer cache off",
                f"{nc['events_per_s']:,.0f} ev/s",
                f"ratio {tp['ratio_engine_nocache_baseline']:.3f}",
            )
        )
        sq = tp["engine_sql_split"]
        rows.append(
            (
                "    inside the SqlStore unit of work (timed run)",
                f"{100 * sq['store_s'] / sq['seconds']:.0f}%",
                f"{sq['store_s']:.1f} of {sq['seconds']:.1f} s (commit "
                f"{sq['unit_of_work_s']['commit']['seconds']:.1f} s, reads "
                f"{sq['store_s'] - sq['unit_of_work_s']['commit']['seconds']:.1f} s)",
            )
        )
        rows.append(
            (
                "  engine + MemoryStore",
                f"{tp['engine_memory']['events_per_s']:,.0f} ev/s",
                f"{tp['us_per_event']['engine_memory']:,.0f} us/event",
            )
        )
        rows.append(
            (
                "  engine + no-op store (logic only)",
                f"{tp['engine_nostore']['events_per_s']:,.0f} ev/s",
                f"{tp['us_per_event']['engine_nostore']:,.0f} us/event",
            )
        )
        rows.append(
            (
                "  us/event: engine sql / floor",
                f"{tp['us_per_event']['engine_sql']:,.0f} / {tp['us_per_event']['baseline']:,.0f}",
                f"cpu-time ratio {tp['ratio_engine_baseline_cpu']:.3f}",
            )
        )
    tm = results.get("timers")
    if tm:
        s, lg = tm["small"], tm["large"]
        rows.append((f"Timers: advance_to firing {s['due']:,} due", "", ""))
        for key, m in (("small", s), ("large", lg)):
            runs = " / ".join(f"{x:.2f}" for x in tm.get(f"{key}_runs_s", [m["seconds"]]))
            rows.append(
                (
                    f"  among {m['enrolments']:,} enrolments",
                    f"{m['seconds']:.2f} s",
                    f"{m['timers_per_s']:,.0f} timers/s; median of {runs}",
                )
            )
        rows.append(
            (
                "  ratio large/small",
                f"{tm['ratio_large_small']:.2f}x",
                f"target <= 2x {'PASS' if tm['meets_target'] else 'FAIL'}; "
                f"cpu-time ratio {tm['ratio_large_small_cpu']:.2f}x; pairs "
                + " / ".join(f"{r:.2f}" for r in tm.get("ratio_runs", [])),
            )
        )
        rows.append(
            (
                "    due-timer query (uow.due_customers) small / large",
                f"{tm['due_query_s']['small']:.2f} / {tm['due_query_s']['large']:.2f} s",
                f"ratio without it {tm['ratio_without_due_query']:.2f}x",
            )
        )
    mem = results.get("memory")
    if mem:
        rows.append(("Peak RSS, streaming ingest (fresh process each)", "", ""))
        for key in ("small", "large"):
            m = mem[key]
            rows.append(
                (
                    f"  {m['events']:,} events / {m['customers']:,} customers",
                    f"{m['peak_rss_mb']:.0f} MiB",
                    f"before ingest {m['rss_before_ingest_mb']:.0f} MiB; "
                    f"{m['events_per_s_streaming']:,.0f} ev/s",
                )
            )
        rows.append(
            (
                f"  ratio large/small ({mem['customers_ratio']:.0f}x customers)",
                f"{mem['ratio_peak_large_small']:.2f}x",
                f"growth during ingest {mem['small']['ingest_growth_mb']:.0f} -> "
                f"{mem['large']['ingest_growth_mb']:.0f} MiB",
            )
        )
    if results.get("service"):
        import bench_service

        rows.extend(bench_service.table_rows(results["service"]))
    w1 = max(len(r[0]) for r in rows) if rows else 0
    w2 = max(len(r[1]) for r in rows) if rows else 0
    return "\n".join(f"{a:<{w1}}  {b:>{w2}}  {c}".rstrip() for a, b, c in rows)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="scaled-down sizes (~3 min)")
    ap.add_argument(
        "--only", action="append", choices=PARTS, help="run only this part (repeatable)"
    )
    ap.add_argument(
        "--head",
        action="store_true",
        help="benchmark a clean snapshot of the committed HEAD (git archive) "
        "instead of the working tree's src/",
    )
    ap.add_argument(
        "--src",
        type=Path,
        help="benchmark the journeyflow sources in this folder (the one holding journeyflow/)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        help="results file (default bench/results.json, or bench/results-quick.json with --quick)",
    )
    args = ap.parse_args()
    if args.head:
        args.src = snapshot_head()
    if args.src:
        os.environ["BENCH_SRC"] = str(args.src.resolve())  # children inherit it
        sys.path.insert(0, str(args.src.resolve()))
    mode = "quick" if args.quick else "full"
    sizes = SIZES[mode]
    parts = args.only or list(PARTS)
    out = args.out or common.BENCH / ("results-quick.json" if args.quick else "results.json")
    profile_out = "profile-quick.txt" if args.quick else "profile.txt"
    os.environ["BENCH_SCRATCH"] = str(common.SCRATCH)  # children share this run's folder

    started = time.perf_counter()
    results: dict[str, Any] = {}
    if args.only and out.exists():  # --only: update those parts of an existing results file
        results = json.loads(out.read_text())
        for part in PARTS:
            if part in results and "context" not in results[part]:
                results[part]["context"] = {
                    "git_head": results.get("machine", {}).get("git_head"),
                    "started": results.get("started"),
                }
    results.update({"mode": mode, "machine": machine()})
    ctx = context()
    print(
        f"journeyflow benchmarks ({mode}) on {results['machine']['cpus']} cpus, "
        f"sources {ctx['src']} ({ctx['git_head']}), load average {ctx['loadavg_start']}",
        flush=True,
    )
    try:
        for part in PARTS:
            if part not in parts:
                continue
            ctx = context()
            part_started = time.perf_counter()
            if part == "throughput":
                import throughput

                n, c = sizes["throughput"]
                results[part] = throughput.run(n, c, sizes["profile"], profile_out=profile_out)
            elif part == "timers":
                import timers

                due, total = sizes["timers"]
                results[part] = timers.run(due, total)
            elif part == "memory":
                import memory

                small, large = sizes["memory"]
                results[part] = memory.run(small, large)
            else:
                import bench_service

                results[part] = bench_service.run(**sizes["service"])
            ctx["elapsed_s"] = round(time.perf_counter() - part_started, 1)
            ctx["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
            results[part]["context"] = ctx
    finally:
        common.clean_scratch()
    elapsed = time.perf_counter() - started
    results["elapsed_s"] = round(elapsed, 1)
    results["elapsed_s_by_part"] = {
        p: results[p]["context"].get("elapsed_s") for p in PARTS if p in results
    }
    results.pop("started", None)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    if "throughput" in results:
        prof = results["throughput"]["profile"]
        print(
            f"\nEngine hot path: top {len(prof['top_cumulative'])} by cumulative time "
            f"(cProfile, {prof['events']:,} events; full listing in bench/{profile_out})"
        )
        print(f"{'cumtime':>8} {'cum%':>6} {'tottime':>8} {'ncalls':>9}  function")
        for r in prof["top_cumulative"]:
            print(
                f"{r['cumtime_s']:>8.2f} {r['cum_pct']:>5.1f}% {r['tottime_s']:>8.2f} "
                f"{r['ncalls']:>9}  {r['function']}"
            )
        print("\nWhere the SQL engine's time goes (cumulative, % of the profiled ingest):")
        for label, v in prof["split"].items():
            print(f"  {v['pct']:>5.1f}%  {label}")
    shown = out.relative_to(common.ROOT) if out.is_relative_to(common.ROOT) else out
    print(f"\nwrote {shown}; total {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
