"""The README's PostgreSQL example, as an operator runs it: two
`journeyflow run --worker --write-key ...` processes on one database, each
serving the HTTP ingest on its own port. A client posts batches to both,
some of them twice (a client's retry, through the other worker): every event
applied once and in each customer's order, whichever worker took it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from journeyflow.store import tables as t

pytest.importorskip("procrastinate", reason="procrastinate is not installed (postgres extra)")

KEY = "fleet-key"
CUSTOMERS = 50
ROUNDS = 20  # events per customer
JOURNEY = """\
journey: http-fleet
version: 1
entry: {on: [signed_up]}
initial: active
states:
  active:
    transitions:
      - {on: step, to: active}
"""


class RunWorker:
    """`journeyflow run --worker` on a free port; its URL from its ready line."""

    def __init__(self, url: str, journeys: Path, log: Path) -> None:
        command = [
            str(Path(sys.executable).with_name("journeyflow")), "run", "--worker",
            "--journeys", str(journeys), "--write-key", KEY, "--port", "0",
            "--no-deliver", "--segments-every", "off",
        ]  # fmt: skip
        env = {**os.environ, "JOURNEYFLOW_DATABASE_URL": url, "JOURNEYFLOW_LOG_LEVEL": "info"}
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, env=env)
        self.url = self._wait_ready(60)

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in self.log.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    if record.get("event") == "fleet worker ready" and record.get("url"):
                        return str(record["url"])
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError("the worker did not start:\n" + self.log.read_text())

    def post(self, batch: list[dict[str, Any]]) -> int:
        auth = base64.b64encode(f"{KEY}:".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}/v1/batch",
            data=json.dumps({"batch": batch}).encode(),
            headers={"content-type": "application/json", "authorization": f"Basic {auth}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def test_two_workers_behind_two_ports_apply_every_event_once_in_order(
    pg_url: str, tmp_path: Path
) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "http-fleet.yaml").write_text(JOURNEY)
    workers = [RunWorker(pg_url, journeys, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        for n in range(ROUNDS):
            batch = [
                {
                    "type": "track",
                    "event": "signed_up" if n == 0 else "step",
                    "userId": f"c{c:03d}",
                    "messageId": f"m{c:03d}-{n:02d}",
                    "properties": {"n": n},
                }
                for c in range(CUSTOMERS)
            ]
            assert workers[n % 2].post(batch) == 200
            if n % 5 == 0:  # a client's retry of the same batch, through the other worker
                assert workers[(n + 1) % 2].post(batch) == 200
        db = create_engine(pg_url)
        deadline = time.monotonic() + 60
        with db.connect() as conn:
            while conn.execute(select(func.count()).select_from(t.inbox)).scalar_one():
                assert time.monotonic() < deadline, "the inbox was not drained in 60 s"
                time.sleep(0.1)
                conn.rollback()
            rows = conn.execute(
                select(t.events.c.customer_id, t.events.c.message_id).order_by(t.events.c.seq)
            ).all()
        db.dispose()
        codes = [w.stop() for w in workers]
    finally:
        for worker in workers:
            if worker.proc.poll() is None:
                worker.proc.kill()
    assert codes == [0, 0], "\n".join(w.log.read_text()[-3000:] for w in workers)
    assert len(rows) == CUSTOMERS * ROUNDS
    order: dict[str, list[int]] = defaultdict(list)
    for customer_id, message_id in rows:
        order[customer_id].append(int(message_id.rsplit("-", 1)[1]))
    assert all(steps == list(range(ROUNDS)) for steps in order.values())
    applied_by = [w.log.read_text() for w in workers]
    assert all("fleet worker stopped" in text for text in applied_by)
