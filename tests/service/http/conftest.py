"""Fixtures of the ingest tests: a database (a SQLite file, PostgreSQL), its
inbox, and the app served on a loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from journeyflow.service.http import create_app
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from tests.service.http.helpers import KEY
from tests.service.http.server import serving


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ingest.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    opened = SqlStore(url)
    yield opened
    opened.close()


@pytest.fixture
def inbox(store: SqlStore) -> Inbox:
    return Inbox(store)


Serve = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def serve(inbox: Inbox) -> Serve:
    """`with serve(**create_app_options) as url:` the app on a loopback port;
    `wrap` puts an ASGI wrapper (FailFirst) around it."""

    def start(wrap: Callable[[ASGIApp], ASGIApp] | None = None, **options: Any) -> Any:
        options.setdefault("write_keys", [KEY])
        app: ASGIApp = create_app(inbox, **options)
        return serving(wrap(app) if wrap is not None else app)

    return start
