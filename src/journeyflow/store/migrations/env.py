"""Alembic environment: runs on the connection the store hands over, in batch
mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from journeyflow.store.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic CLI
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as conn:
            _migrate(conn)
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
