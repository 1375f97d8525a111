"""procrastinate's tables in journeyflow's PostgreSQL, installed once.

Workers start together (a deploy starts three at once), and procrastinate's
schema is plain `CREATE TABLE`s: two processes running it at the same moment
would both try. So each worker installs it inside one transaction holding an
advisory lock, after looking whether another worker already has: the first
one installs, the others wait for its commit, find the tables and go on.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

__all__ = ["LOCK_KEYS", "install_job_schema", "libpq_url"]

# pg_advisory_xact_lock(int, int): "jflw" and "jobs" — apart from the store's
# migration lock ("jflw", "schm") and the customers' one-key locks
LOCK_KEYS = (0x6A666C77, 0x6A6F6273)


def libpq_url(database: str) -> str:
    """The store's SQLAlchemy URL (`postgresql+psycopg://...`) as libpq reads it."""
    url = make_url(database).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def install_job_schema(conninfo: str) -> bool:
    """Install procrastinate's schema unless there already; whether this call did."""
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo) as conn:  # one transaction, committed on exit
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", LOCK_KEYS)
        found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found is not None and found[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())
    return True
