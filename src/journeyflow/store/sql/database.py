"""Opening a database: from a URL to a SQLAlchemy engine, and the schema to
the newest Alembic revision (`../migrations/`).

A URL that is not one, a driver that is not installed, a server that does not
answer: each is a `StoreError` saying so in one line, never a traceback, and
never with the URL's password.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from journeyflow.exceptions import StoreError
from journeyflow.store.errors import driver_reason
from journeyflow.store.sql.rows import json_text
from journeyflow.store.sql.sqlite import pop_synchronous, set_up_connections

_EXAMPLES = "sqlite:///journeyflow.db or postgresql+psycopg://user@host:5432/dbname"


def open_engine(url: str | URL, *, migrate: bool = True) -> Engine:
    """An engine for `url` (SQLite connections set up by `sqlite.set_up_connections`),
    its schema upgraded unless `migrate` is false."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"database URL {str(url)!r} is not a URL: write e.g. {_EXAMPLES}"
        ) from None
    synchronous = None
    if parsed.get_backend_name() == "sqlite":
        parsed, synchronous = pop_synchronous(parsed)
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = create_engine(parsed, json_serializer=json_text)
    except (ArgumentError, ImportError) as exc:  # NoSuchModuleError is an ArgumentError
        raise StoreError(f"database URL {shown!r}: {exc}; write e.g. {_EXAMPLES}") from None
    if synchronous is not None:
        set_up_connections(engine, synchronous)
    if migrate:
        try:
            upgrade(engine)
        except OperationalError as exc:  # no server, refused, no such folder...
            engine.dispose()
            raise StoreError(f"cannot open the database {shown!r}: {driver_reason(exc)}") from None
    return engine


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command  # only when opening a database: alembic is slow to import
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "journeyflow.store:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
