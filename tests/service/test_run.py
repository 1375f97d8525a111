"""`journeyflow run` as an operator runs it: a process on a SQLite file.

Real parts only: the command in a subprocess, HTTP over loopback (httpx, and
the real Segment and RudderStack client packages), a real SMTP server
(aiosmtpd) behind the first-party e-mail plugin, SIGTERM from outside.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.process import RunProcess, SmtpSink, email_env

JOURNEY = """\
journey: welcome-timer
version: 1
entry:
  on: [signed_up]
initial: welcomed
states:
  welcomed:
    on_enter:
      - send: email
        template: welcome
    transitions:
      - after: 2s
        to: reminded
  reminded:
    on_enter:
      - send: email
        template: welcome
    transitions:
      - after: 1d
        to: done
  done:
    final: true
"""

KEY = "test-write-key"


def _journeys(tmp_path: Path) -> Path:
    folder = tmp_path / "journeys"
    folder.mkdir()
    (folder / "welcome.yaml").write_text(JOURNEY)
    return folder


def _events_in(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return [
            (r[0], r[1])
            for r in conn.execute("SELECT message_id, customer_id FROM events ORDER BY seq")
        ]


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_events_over_http_timers_in_real_time_mail_sent_and_a_clean_stop(
    tmp_path: Path, smtp: SmtpSink
) -> None:
    db = tmp_path / "run.db"
    env = email_env(smtp.port, tmp_path)
    with RunProcess(db, _journeys(tmp_path), KEY, env=env) as run:
        assert httpx.get(f"{run.url}/livez").status_code == 200
        assert httpx.get(f"{run.url}/readyz").status_code == 200
        batch = [
            {
                "type": "identify",
                "userId": f"c{i}",
                "messageId": f"i{i}",
                "traits": {"email": f"c{i}@example.com"},
            }
            for i in range(20)
        ] + [
            {"type": "track", "userId": f"c{i}", "event": "signed_up", "messageId": f"m{i}"}
            for i in range(20)
        ]
        answer = httpx.post(f"{run.url}/v1/batch", json={"batch": batch}, auth=(KEY, ""))
        assert answer.status_code == 200, answer.text
        # each customer gets the welcome at once and the reminder two seconds later,
        # fired by the process's own timer loop: nothing else moves the clock
        smtp.wait_for(40, timeout=60)
        metrics = httpx.get(f"{run.url}/metrics").text
        assert 'journeyflow_timers_fired_total{journey="welcome-timer"} 20.0' in metrics
        assert "journeyflow_timer_lateness_seconds_count 20.0" in metrics
        assert "journeyflow_events_applied_total 40.0" in metrics
        code = run.stop(signal.SIGTERM)
    assert code == 0, run.stderr_text()
    assert sorted(Counter(smtp.recipients()).values()) == [2] * 20
    assert len(_events_in(db)) == 40
    assert _count(db, "inbox") == 0
    with sqlite3.connect(db) as conn:
        states = dict(conn.execute("SELECT customer_id, state FROM enrolments").fetchall())
    assert set(states.values()) == {"reminded"}


def test_a_retried_batch_is_applied_once(tmp_path: Path) -> None:
    db = tmp_path / "run.db"
    with RunProcess(db, _journeys(tmp_path), KEY, deliver=False) as run:
        batch = {
            "batch": [{"type": "track", "userId": "a", "event": "signed_up", "messageId": "x"}]
        }
        for _ in range(3):  # a client that did not hear the first 200
            assert httpx.post(f"{run.url}/v1/batch", json=batch, auth=(KEY, "")).status_code == 200
        run.wait_applied(1)
        assert run.stop(signal.SIGTERM) == 0
    assert _events_in(db) == [("x", "a")]
    assert _count(db, "history") == 1  # one enrolment, entered once


def test_sigterm_during_a_load_loses_nothing_accepted(tmp_path: Path) -> None:
    """Clients keep posting while the process is told to stop: every event it
    answered 200 for is applied before it exits; the rest were refused (a
    client retries those) or never reached it."""
    db = tmp_path / "run.db"
    accepted: list[str] = []
    stop_sending = threading.Event()

    def client(n: int, url: str) -> None:
        with httpx.Client(auth=(KEY, ""), timeout=10) as http:
            i = 0
            while not stop_sending.is_set():
                ids = [f"c{n}-{i}-{j}" for j in range(50)]
                batch = [
                    {
                        "type": "track",
                        "userId": f"u{n}-{j % 7}",
                        "event": "signed_up",
                        "messageId": m,
                    }
                    for j, m in enumerate(ids)
                ]
                try:
                    answer = http.post(f"{url}/v1/batch", json={"batch": batch})
                except httpx.TransportError:
                    return  # the listener closed
                if answer.status_code == 200:
                    accepted.extend(ids)
                i += 1

    with RunProcess(db, _journeys(tmp_path), KEY, deliver=False) as run:
        threads = [threading.Thread(target=client, args=(n, run.url)) for n in range(3)]
        for thread in threads:
            thread.start()
        while len(accepted) < 3000:
            time.sleep(0.05)
        code = run.stop(signal.SIGTERM)
        stop_sending.set()
        for thread in threads:
            thread.join()
    assert code == 0, run.stderr_text()
    stored = {m for m, _ in _events_in(db)}
    assert len(accepted) >= 3000
    assert set(accepted) <= stored  # nothing answered 200 is lost
    assert _count(db, "inbox") == 0


def _send_with(client_kind: str, url: str, total: int, errors: list[str]) -> None:
    """`total` track calls through the real client package, flushed and joined."""
    sender: Any
    if client_kind == "segment":
        from segment.analytics import Client as SegmentClient

        sender = SegmentClient(
            KEY,
            host=url,
            max_queue_size=total * 2,
            on_error=lambda e, _b: errors.append(str(e)),
            max_retries=50,
        )
    else:
        from rudderstack.analytics import Client as RudderClient

        sender = RudderClient(
            KEY, host=url, max_queue_size=total * 2, on_error=lambda e, _b: errors.append(str(e))
        )
    for i in range(total):
        sender.track(
            user_id=f"u{i % 500}",
            event="signed_up" if i < 500 else "page_seen",
            properties={"n": i},
            message_id=f"{client_kind}-{i}",
        )
    sender.flush()
    sender.join()


@pytest.mark.parametrize("client_kind", ["segment", "rudderstack"])
def test_the_real_clients_land_10000_events_once(tmp_path: Path, client_kind: str) -> None:
    db = tmp_path / "run.db"
    total = 10_000
    errors: list[str] = []
    with RunProcess(db, _journeys(tmp_path), KEY, deliver=False) as run:
        _send_with(client_kind, run.url, total, errors)
        run.wait_applied(total, timeout=120)
        assert run.stop(signal.SIGTERM) == 0
    assert not errors
    stored = _events_in(db)
    assert len(stored) == total
    assert {m for m, _ in stored} == {f"{client_kind}-{i}" for i in range(total)}
    # each customer's events stored in the order the client sent them
    for user in ("u0", "u499"):
        sent = [int(m.rsplit("-", 1)[1]) for m, c in stored if c == user]
        assert sent == sorted(sent) and len(sent) == 20


@pytest.mark.parametrize("client_kind", ["segment", "rudderstack"])
def test_the_real_clients_retry_through_back_pressure(tmp_path: Path, client_kind: str) -> None:
    """An inbox kept so small that the server answers 429 with Retry-After over
    and over: the client retries and every event is applied exactly once."""
    db = tmp_path / "run.db"
    total = 1_000
    errors: list[str] = []
    with RunProcess(
        db,
        _journeys(tmp_path),
        KEY,
        deliver=False,
        extra=["--max-inbox", "1"],
        env={"JOURNEYFLOW_RETRY_AFTER": "1"},
    ) as run:
        _send_with(client_kind, run.url, total, errors)
        run.wait_applied(total, timeout=120)
        metrics = httpx.get(f"{run.url}/metrics").text
        assert run.stop(signal.SIGTERM) == 0
    assert not errors
    stored = _events_in(db)
    assert sorted(m for m, _ in stored) == sorted(f"{client_kind}-{i}" for i in range(total))
    # the back-pressure was real: the server refused requests with 429
    assert 'status="429"' in metrics


def test_sigterm_turns_readiness_off_before_the_listener_closes(tmp_path: Path) -> None:
    """With --unready-for, a load balancer polling /readyz sees 503 while the
    process still answers, and only then does the listener close."""
    db = tmp_path / "run.db"
    with RunProcess(
        db, _journeys(tmp_path), KEY, deliver=False, extra=["--unready-for", "3s"]
    ) as run:
        assert httpx.get(f"{run.url}/readyz").status_code == 200
        run.proc.send_signal(signal.SIGTERM)
        seen: list[int] = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            seen.append(httpx.get(f"{run.url}/readyz").status_code)
            time.sleep(0.1)
        assert seen[-1] == 503  # still listening, no longer ready
        assert httpx.get(f"{run.url}/livez").status_code == 200
        assert run.stop(signal.SIGTERM) == 0


def test_a_port_in_use_is_one_line_and_nothing_runs(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "journeyflow.cli",
                "run",
                "--database",
                f"sqlite:///{tmp_path / 'x.db'}",
                "--journeys",
                str(_journeys(tmp_path)),
                "--port",
                str(port),
                "--write-key",
                KEY,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1].startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    )
    assert "Traceback" not in done.stderr
    assert "segments recomputed" not in done.stderr  # it stopped before any work
