"""Which failures one event can cause, and which stop every batch alike.

When a batch of events fails to apply or to commit, the engine applies it
again without the event at fault (`runtime/engine.py`), which is then kept as
rejected with the reason. That is right for what one event can cause: a value
the database refuses, a timer its journey cannot set. It is wrong for what
any batch would meet: the database gone, a lock held past the busy timeout,
no memory left. Those stop the ingest instead (the batches committed before
stay committed; a re-run applies the rest, each event once).

Database errors are told apart by their class names, which PEP 249 fixes for
every driver (`OperationalError`, `InterfaceError`) and SQLAlchemy keeps when
it wraps them, so the engine needs no database library to ask.
"""

from __future__ import annotations

# the connection, not the data, is at fault: PEP 249's and SQLAlchemy's names,
# and Python's own for a timeout or a dropped connection
_CONNECTION_FAULTS = frozenset(
    {"OperationalError", "InterfaceError", "DisconnectionError", "TimeoutError", "ConnectionError"}
)


def stops_everything(exc: BaseException) -> bool:
    """Whether `exc` would fail any batch, not just one holding some event."""
    if not isinstance(exc, Exception) or isinstance(exc, MemoryError):
        return True
    return any(cls.__name__ in _CONNECTION_FAULTS for cls in type(exc).__mro__)
