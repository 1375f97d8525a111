"""A fleet worker as `journeyflow run --worker --no-http` starts one, for the
fleet tests: the same settings, store, plugins and engine, then `run_worker`.

    python worker_main.py --database URL --journeys DIR [--poll 1s] ...

(`journeyflow run` imports the HTTP app before it looks at `--worker`; this
starts a worker whatever state that app is in.)
"""

from __future__ import annotations

import sys

from journeyflow import log
from journeyflow.clock import SystemClock
from journeyflow.commands._common import make_engine, plugin_registry
from journeyflow.exceptions import JourneyflowError
from journeyflow.service.settings import load_settings
from journeyflow.service.workers import run_worker
from journeyflow.store import open_store
from journeyflow.store.sql import SqlStore


def main(argv: list[str]) -> int:
    flags: dict[str, object] = {"worker": True, "http": False}
    for name, value in zip(argv[::2], argv[1::2], strict=True):
        key = name.lstrip("-").replace("-", "_")
        flags[key] = [value] if key == "journeys" else value
    settings = load_settings(None, **flags)
    log.configure(settings.log_level, settings.log_format)
    store = open_store(settings.database)
    assert isinstance(store, SqlStore)
    try:
        clock = SystemClock()
        engine = make_engine(settings.journeys, store, clock, batch_size=settings.batch_size)
        return run_worker(settings, engine, plugin_registry(), None)
    except JourneyflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
