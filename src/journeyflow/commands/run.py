"""`journeyflow run`: the engine as a long-running service (docs/service.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from journeyflow import log
from journeyflow.clock import SystemClock
from journeyflow.commands._common import DURATION, make_engine, plugin_registry
from journeyflow.exceptions import JourneyflowError
from journeyflow.service.runner import Service
from journeyflow.service.settings import RunSettings, load_settings
from journeyflow.store import open_store
from journeyflow.store.sql import SqlStore


@click.command("run")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="JOURNEYFLOW_CONFIG",
    help="a TOML file of settings (flags and JOURNEYFLOW_* variables win over it)",
)
@click.option(
    "--database",
    "-d",
    envvar="JOURNEYFLOW_DATABASE_URL",
    help="SQLAlchemy URL of the store [default: sqlite:///journeyflow.db]",
)
@click.option(
    "--journeys",
    "-j",
    multiple=True,
    type=click.Path(exists=True),
    help="journey files or folders [default: ./journeys]",
)
@click.option("--host", help="address to listen on [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), help="port (0: any free one) [8787]")
@click.option(
    "--write-key",
    "write_keys",
    multiple=True,
    help="a write key clients must present (repeat for several; env JOURNEYFLOW_WRITE_KEYS)",
)
@click.option("--batch-size", type=click.IntRange(1, 100_000), help="events per unit of work")
@click.option("--max-inbox", type=click.IntRange(min=1), help="inbox depth that answers 429")
@click.option("--max-event-bytes", type=click.IntRange(min=256), help="largest event [32 KiB]")
@click.option("--max-request-bytes", type=click.IntRange(min=1024), help="largest body [4 MiB]")
@click.option("--segments-every", help="segment cadence (e.g. 1d, 6h; 'off' for none) [1d]")
@click.option("--deliver/--no-deliver", default=None, help="deliver the outbox here [deliver]")
@click.option("--max-attempts", type=click.IntRange(1, 100), help="delivery attempts [5]")
@click.option("--poll", type=DURATION, help="longest sleep between checks [1s]")
@click.option("--grace", type=DURATION, help="SIGTERM: time to drain [30s]")
@click.option(
    "--unready-for", type=DURATION, help="SIGTERM: time /readyz says 503 before closing [0s]"
)
@click.option("--log-format", type=click.Choice(["json", "console"]), help="[json]")
@click.option("--worker", is_flag=True, default=None, help="one of a PostgreSQL fleet")
@click.option("--http/--no-http", default=None, help="serve the HTTP ingest here [http]")
@click.option("--shards", type=click.IntRange(1, 4096), help="inbox shards [16]")
def command(config: Path | None, journeys: tuple[str, ...], **flags: Any) -> None:
    """Serve HTTP ingest, apply events, fire timers, recompute segments, deliver.

    Runs until SIGTERM or SIGINT, then drains what it accepted and exits 0.
    Clients post Segment-style events to /v1/batch (or /v1/track, /v1/identify,
    ...) with a write key as HTTP Basic user; /livez, /readyz and /metrics
    tell how it is doing. On PostgreSQL, `--worker` processes on several hosts
    share the work (docs/scaling.md).
    """
    if journeys:
        flags["journeys"] = list(journeys)
    if flags.get("write_keys") == ():
        flags["write_keys"] = None
    if flags.get("segments_every") in ("off", "none", "0"):
        flags["segments_every"] = ""
    settings = load_settings(config, **{k: v for k, v in flags.items() if v is not None})
    log.configure(settings.log_level, settings.log_format)
    if settings.http and not settings.write_keys:
        raise JourneyflowError(
            "no write key: give one with --write-key KEY (or JOURNEYFLOW_WRITE_KEYS); "
            "clients send it as their write key"
        )
    raise SystemExit(serve(settings))


def serve(settings: RunSettings) -> int:
    """Open the store, load the journeys, run until stopped; the exit code."""
    store = open_store(settings.database)
    try:
        if not isinstance(store, SqlStore):
            raise JourneyflowError(
                f"journeyflow run needs a database (sqlite:///FILE or postgresql://...), "
                f"not {settings.database}: what it accepts must survive a restart"
            )
        registry = plugin_registry()
        engine = make_engine(
            settings.journeys, store, SystemClock(), batch_size=settings.batch_size
        )
        from journeyflow.service.http.app import create_app

        if settings.worker:
            if store.dialect != "postgresql":
                raise JourneyflowError("--worker needs PostgreSQL: SQLite has one writer")
            from journeyflow.service.workers import run_worker

            code: int = run_worker(settings, engine, registry, create_app)
            return code
        service = Service(settings, engine, registry, store, create_app)
        return service.serve()
    finally:
        store.close()
