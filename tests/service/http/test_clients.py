"""The real tracking clients against the ingest: `segment-analytics-python`
and `rudder-sdk-python` (which gzips by default) pointed at a loopback
server. Every call they send lands in the inbox exactly once — also when the
server answers 503 for a while (before the commit, or after it, as when an
answer is lost) and the clients send again, and on PostgreSQL when the
database itself goes away and comes back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
from sqlalchemy import create_engine, make_url, text

from journeyflow.store.sql.inbox import Inbox
from tests.conftest import PG_ADMIN
from tests.service.http.conftest import KEY, Serve
from tests.service.http.server import CountStatuses, FailFirst

PER_CLIENT = 600  # calls each client sends: 100 of each of the six kinds
Client = Any  # segment.analytics.Client or rudderstack.analytics.Client


def client(kind: str, url: str, errors: list[BaseException]) -> Client:
    """A real client in its ordinary (queued, background-thread) mode."""

    def on_error(error: BaseException, batch: Any) -> None:
        errors.append(error)

    if kind == "segment":
        from segment.analytics import Client as SegmentClient

        return SegmentClient(KEY, host=url, on_error=on_error, upload_interval=0.05)
    from rudderstack.analytics import Client as RudderClient

    return RudderClient(KEY, host=url, on_error=on_error, upload_interval=0.05)


def send_calls(sender: Client, prefix: str, count: int = PER_CLIENT) -> list[str]:
    """Every kind of call, each with a messageId; the ids, in the order sent."""
    sent = []
    for i in range(count):
        user = f"{prefix}-user-{i % 7}"
        mid = f"{prefix}-{i}"
        kind = i % 6
        if kind == 0:
            sender.track(user, "order_completed", {"n": i}, message_id=mid)
        elif kind == 1:
            sender.identify(user, {"plan": "pro", "n": i}, message_id=mid)
        elif kind == 2:
            sender.page(user, "Docs", "Pricing", {"n": i}, message_id=mid)
        elif kind == 3:
            sender.screen(user, "App", "Home", {"n": i}, message_id=mid)
        elif kind == 4:
            sender.group(user, "acme", {"n": i}, message_id=mid)
        else:
            sender.alias(f"{user}-before", user, message_id=mid)
        sent.append(mid)
    return sent


def finish(sender: Client) -> None:
    sender.flush()
    sender.join()


@pytest.fixture(params=["segment", "rudder"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_call_lands_once_and_in_the_order_sent(kind: str, serve: Serve, inbox: Inbox) -> None:
    errors: list[BaseException] = []
    with serve() as url:
        sender = client(kind, url, errors)
        sent = send_calls(sender, kind)
        finish(sender)
    assert errors == []
    kept = inbox.take(10 * PER_CLIENT)
    assert [i.message_id for i in kept] == sent  # once each, in order (one client thread)
    library = {"segment": "analytics-python", "rudder": "analytics-python"}[kind]
    assert {i.raw["context"]["library"]["name"] for i in kept} == {library}
    names = {i.raw["event"] for i in kept if i.raw["type"] == "track"}
    assert names == {
        "order_completed",
        "page_viewed",
        "screen_viewed",
        "group_joined",
        "user_aliased",
    }


@pytest.mark.parametrize("when", ["before", "after"])
def test_503s_for_a_while_lose_nothing_and_duplicate_nothing(
    kind: str, when: Literal["before", "after"], serve: Serve, inbox: Inbox
) -> None:
    errors: list[BaseException] = []
    outage: list[FailFirst] = []

    def failing(app: Any) -> Any:
        outage.append(FailFirst(app, count=3, when=when, retry_after=1))
        return outage[0]

    with serve(wrap=failing) as url:
        sender = client(kind, url, errors)
        sent = send_calls(sender, kind)
        finish(sender)
    assert outage[0].failed == 3  # the clients met the outage, and sent again
    assert errors == []
    kept = [i.message_id for i in inbox.take(10 * PER_CLIENT)]
    assert sorted(kept) == sorted(sent)  # each once (Segment re-queues a batch: order may change)


def test_both_clients_at_once_each_call_once(serve: Serve, inbox: Inbox) -> None:
    errors: list[BaseException] = []
    sent: dict[str, list[str]] = {}
    with serve() as url:
        senders = {k: client(k, url, errors) for k in ("segment", "rudder")}

        def run(k: str) -> None:
            sent[k] = send_calls(senders[k], k)
            finish(senders[k])

        threads = [threading.Thread(target=run, args=(k,)) for k in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    kept = [i.message_id for i in inbox.take(10 * PER_CLIENT)]
    assert sorted(kept) == sorted(sent["segment"] + sent["rudder"])
    for k, ids in sent.items():  # each client's calls in the order it sent them
        assert [m for m in kept if m.startswith(f"{k}-")] == ids


@pytest.fixture
def pg_outage(url: str) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """(down, up) for this test's PostgreSQL database: down refuses new
    connections and ends the open ones; up lets them in again."""
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has no server to take away (FailFirst gives its clients 503s)")
    name = make_url(url).database
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")

    def down() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )

    def up() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))

    try:
        yield down, up
    finally:
        up()
        admin.dispose()


def test_the_database_away_for_a_while_is_503_and_the_clients_retries_land_once(
    kind: str,
    serve: Serve,
    inbox: Inbox,
    pg_outage: tuple[Callable[[], None], Callable[[], None]],
) -> None:
    down, up = pg_outage
    errors: list[BaseException] = []
    counting: list[CountStatuses] = []

    def counted(app: Any) -> Any:
        counting.append(CountStatuses(app))
        return counting[0]

    with serve(wrap=counted, retry_after=1) as url:
        sender = client(kind, url, errors)
        first = send_calls(sender, f"{kind}-a", 120)
        sender.flush()
        down()
        rest = send_calls(sender, f"{kind}-b", 480)
        deadline = time.monotonic() + 60
        while counting[0].count(503) < 3:  # the clients are meeting the outage
            assert time.monotonic() < deadline, "no 503 while the database was away"
            time.sleep(0.05)
        up()
        finish(sender)
    assert errors == []
    assert counting[0].count(500) == 0  # the outage was told as one, never as a failure
    kept = [i.message_id for i in inbox.take(10 * PER_CLIENT)]
    assert sorted(kept) == sorted(first + rest)
