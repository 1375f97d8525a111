"""Opening a database: from a URL to a SQLAlchemy engine, and the schema to
the newest Alembic revision (`schema.py`).

A URL that is not one, a driver that is not installed, a server that does not
answer, a file that is no SQLite database, a database of another application
or of a newer journeyflow: each is a `StoreError` saying so in one line, never
a traceback, and never with the URL's password.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError

from journeyflow.exceptions import StoreError
from journeyflow.store.errors import driver_reason
from journeyflow.store.sql.rows import json_text
from journeyflow.store.sql.schema import describe, look_first, upgrade
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
    try:
        if synchronous is not None:
            if migrate:
                look_first(engine)  # another application's file is refused before we touch it
            set_up_connections(engine, synchronous)
        if migrate:
            upgrade(engine)
    except DatabaseError as exc:  # no server, refused, no such folder, not a database...
        engine.dispose()
        reason = driver_reason(exc)
        if "not a database" in reason:  # SQLite's word for a file of anything else
            raise StoreError(
                f"{describe(engine)} is not a SQLite database ({reason}): give --database "
                "a new file or a journeyflow database"
            ) from None
        raise StoreError(f"cannot open the database {shown!r}: {reason}") from None
    except StoreError:
        engine.dispose()
        raise
    return engine


__all__ = ["open_engine", "upgrade"]
