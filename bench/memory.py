"""Peak RSS of a streaming ingest: does the engine's memory grow with customers?

Each measurement is a fresh process that builds an Engine on a fresh SQLite file
(SqlStore), then ingests a lazily generated stream (never a list) of events
spread over the customers. Reported: `ru_maxrss` before the ingest (imports,
migrations, the compiled journey) and after it, plus the current RSS sampled
along the way, so a leak shows as a slope rather than only as a peak.
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

import common


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:  # not Linux: fall back to the peak
        return round(common.peak_rss_mb(), 1)


def rss_run(n: int, customers: int) -> dict[str, Any]:
    """Child: stream `n` events over `customers` customers through the engine."""
    from journeyflow.clock import VirtualClock
    from journeyflow.runtime.engine import Engine
    from journeyflow.store.sql import SqlStore

    path = common.fresh_db(f"rss-{n}.db")
    store = SqlStore(f"sqlite:///{path}")
    engine = Engine([common.load_journey()], store, VirtualClock(common.T0))
    before = common.peak_rss_mb()
    samples: list[tuple[int, float]] = []
    done = 0
    every = max(1, n // 20)
    bar = common.progress(n, f"rss: {n:,} events / {customers:,} customers")

    def on_batch(size: int) -> None:
        nonlocal done
        bar.update(size)
        if (done + size) // every > done // every:
            samples.append((done + size, _current_rss_mb()))
        done += size

    started = time.perf_counter()
    report = engine.ingest(common.events(n, customers), on_batch=on_batch)
    seconds = time.perf_counter() - started
    bar.close()
    assert report.accepted == n and not report.rejected, report
    peak = common.peak_rss_mb()
    store.close()
    common.remove_db(path)
    return {
        "events": n,
        "customers": customers,
        "rss_before_ingest_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
        "ingest_growth_mb": round(peak - before, 1),
        "rss_samples_mb": samples,
        "seconds": round(seconds, 1),
        "events_per_s_streaming": common.rate(n, seconds),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def run(small: tuple[int, int], large: tuple[int, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    print(
        f"  memory: peak RSS streaming {small[0]:,} events / {small[1]:,} customers vs "
        f"{large[0]:,} / {large[1]:,}",
        flush=True,
    )
    for label, (n, customers) in (("small", small), ("large", large)):
        res = common.run_child("memory", "rss_run", n=n, customers=customers)
        out[label] = res
        print(
            f"    {n:>9,} events / {customers:>7,} customers: peak RSS "
            f"{res['peak_rss_mb']:.0f} MiB (before ingest {res['rss_before_ingest_mb']:.0f}; "
            f"{res['events_per_s_streaming']:,.0f} ev/s, {res['seconds']:.0f} s)",
            flush=True,
        )
    out["ratio_peak_large_small"] = round(
        out["large"]["peak_rss_mb"] / out["small"]["peak_rss_mb"], 2
    )
    growth_small = max(out["small"]["ingest_growth_mb"], 0.1)
    out["ratio_growth_large_small"] = round(out["large"]["ingest_growth_mb"] / growth_small, 2)
    out["customers_ratio"] = round(large[1] / small[1], 1)
    return out
