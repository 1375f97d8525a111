"""Bringing a database's schema to the newest Alembic revision (`../migrations/`):
one process at a time, and never on a database that is not ours to change.

Several processes started at once on an empty database (a deployment's
workers, say) would each find no schema and each create it; all but one then
die on a duplicate table. So the upgrade runs holding a lock the others wait
for, in the same transaction as the upgrade (Alembic's DDL is transactional on
both databases), and the next process in finds the schema at head and does
nothing:

* PostgreSQL: a transaction-scoped advisory lock on a fixed pair of keys (the
  two-key form: customers' locks use the one-key form, a separate key space);
* SQLite: `BEGIN IMMEDIATE`, the file's write lock, which the others wait for
  (busy timeout).

A database already at head, as on every start but the first, is only read:
no lock, no waiting behind another process's batch.

Before upgrading, the database is checked to be journeyflow's or empty: a
database holding another application's tables, or at a schema revision this
journeyflow does not know (a newer journeyflow migrated it), is refused with
a `StoreError` saying which database and what to do, and left untouched.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from journeyflow.exceptions import StoreError
from journeyflow.store.sql.sqlite import WRITE

if TYPE_CHECKING:
    from alembic.config import Config

# pg_advisory_xact_lock(int, int): "jflw" and "schm", readable in pg_locks
LOCK_KEYS = (0x6A666C77, 0x7363686D)


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision, holding the
    migration lock; refuse a database that is another application's or newer.

    :raises StoreError: the database is not journeyflow's, or is newer than it
    """
    from alembic import command  # only when opening a database: alembic is slow to import

    cfg = _config()
    with engine.connect() as conn, conn.begin():
        # a plain read first: a database already at head (every start but the
        # first) needs no lock, so opening never waits behind a writer
        if check_ours(conn, cfg) == [head(cfg)]:
            return
    with engine.connect() as plain:
        conn = plain.execution_options(**{WRITE: True})  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:a, :b)"),
                    {"a": LOCK_KEYS[0], "b": LOCK_KEYS[1]},
                )
            check_ours(conn, cfg)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


def look_first(engine: Engine) -> None:
    """Check an existing SQLite file with plain connections, before ours (set up
    after this) switch it to WAL, which rewrites the file's header: another
    application's file is refused unchanged.

    :raises StoreError: the file is not journeyflow's, or is newer than it
    """
    path = engine.url.database
    if not path or path == ":memory:" or not os.path.exists(path):
        return
    try:
        with engine.connect() as conn:
            check_ours(conn, _config())
    finally:
        engine.dispose()  # the connections to come get our settings


def describe(engine: Engine) -> str:
    """The database as messages name it: a SQLite file by its path, a server
    database by its URL without the password."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"the file {url.database or ':memory:'}"
    return f"the database {url.render_as_string(hide_password=True)}"


FLEET_TABLES = "procrastinate_"


def check_ours(conn: Connection, cfg: Config) -> list[str]:
    """Pass an empty database or one at revisions we know (returned; none when
    empty); refuse the rest."""
    from alembic.script import ScriptDirectory

    where = describe(conn.engine)
    # procrastinate's tables (the PostgreSQL fleet's job queue) live beside ours
    tables = sorted(n for n in inspect(conn).get_table_names() if not n.startswith(FLEET_TABLES))
    if "alembic_version" not in tables:
        if tables:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"{where} is not a journeyflow database: it holds another application's "
                f"tables ({shown}) and no journeyflow schema; give --database a new file "
                "or a journeyflow database"
            )
        return []  # empty: the upgrade creates everything
    stored = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    script = ScriptDirectory.from_config(cfg)
    known = {s.revision for s in script.walk_revisions()}
    unknown = [r for r in stored if r not in known]
    if unknown:
        raise StoreError(
            f"{where} is at schema revision {unknown[0]!r}, which journeyflow "
            f"{_version()} does not know (its newest is {script.get_current_head()}): a newer "
            "journeyflow migrated it, so upgrade journeyflow to use it"
        )
    return stored


def head(cfg: Config | None = None) -> str:
    """The newest revision this journeyflow ships."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(cfg or _config()).get_current_head())


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "journeyflow.store:migrations")
    return cfg


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("journeyflow")
    except PackageNotFoundError:  # running from a source tree
        return "(this copy)"
