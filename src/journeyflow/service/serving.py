"""What the single process (`runner.py`) and a fleet worker (`workers.py`)
do alike: bind the HTTP ingest's socket, configure uvicorn over it, say where
it listens, and count a delivery run into the metrics.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from journeyflow.delivery.report import DispatchReport
from journeyflow.exceptions import JourneyflowError
from journeyflow.service import metrics
from journeyflow.service.settings import RunSettings

__all__ = ["MAX_CONNECTIONS", "count_delivery", "listen", "server_config", "server_url"]

# connections past this get 503 from uvicorn itself (health checks too):
# bodies are read within http.body.READ_TIMEOUT_S and parsed a few at a time,
# so this bounds memory to about MAX_CONNECTIONS bodies
MAX_CONNECTIONS = 1000


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, or one line saying why not. Bound before
    any work starts, so a port in use stops the process at once.
    IPPROTO_TCP given: asyncio sets TCP_NODELAY on accepted connections only
    for such sockets (without it each answer waits ~40 ms on a delayed ACK)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise JourneyflowError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            " (another process has the port? choose one with --port)"
        ) from None
    return sock


def server_config(app: Any, settings: RunSettings) -> uvicorn.Config:
    """uvicorn over the ingest app: our structlog lines only (no access log,
    which would keep client addresses), idle connections closed after 5 s."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="off",
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=max(1, int(settings.grace.total_seconds() / 2)),
    )


def server_url(server: uvicorn.Server | None) -> str | None:
    """Where a started server listens (the port chosen for `--port 0`)."""
    if server is None or not server.started:
        return None
    for listener in server.servers:
        for sock in listener.sockets:
            host, port = sock.getsockname()[:2]
            return f"http://{host}:{port}"
    return None


def count_delivery(report: DispatchReport) -> None:
    """A delivery run's outcomes, per channel, into `journeyflow_effects_total`."""
    for channel, outcome, n in report.counts():
        metrics.EFFECTS.labels(channel=channel, outcome=outcome).inc(n)
