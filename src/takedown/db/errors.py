"""Telling a database that is away or busy from a bug in what we asked of it."""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database is unreachable or busy rather than that we erred.

    OperationalError covers refused and dropped connections, PostgreSQL's lock and statement
    timeouts and SQLite's "database is locked"; a pool checkout timeout is TimeoutError; a
    connection invalidated mid-transaction shows as any DBAPIError with that flag.
    """
    if isinstance(error, sa.OperationalError | sa.TimeoutError):
        return True
    return isinstance(error, sa.DBAPIError) and bool(error.connection_invalidated)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means no database could be reached at all (down, restarting, cut off).

    Narrower than :func:`is_unavailable`: a lock or statement timeout is not an outage, since
    the work that met it may be what is slow, and retrying it for ever would hide that.
    """
    if isinstance(error, sa.TimeoutError):  # no connection came free from the pool
        return True
    if not isinstance(error, sa.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    # psycopg raises OperationalError itself (not a subclass such as QueryCanceled or
    # LockNotAvailable) when it cannot connect or the server went away.
    return type(error.orig) is psycopg.OperationalError
