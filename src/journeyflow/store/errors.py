"""A database error in one line: what `journeyflow` prints as `Error: ...`.

Its own module, free of SQLAlchemy, so the command line can word an error
without importing the SQL store, and the SQL store can without importing the
package that re-exports it.
"""

from __future__ import annotations


def driver_reason(exc: BaseException) -> str:
    """The first line of the database driver's own message, from an error
    SQLAlchemy wrapped (`exc.orig`), for a one-line `Error: ...`."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
