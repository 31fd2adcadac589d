"""While the database is away or too slow, answer 503 at once instead of 500 or a hang.

Every wait on the database is bounded (``db.session.Limits``): a connection that cannot be
made, a pool with no free connection, a lock or statement timeout, a connection the server
dropped. Each of these ends the request with an error from SQLAlchemy; this turns them into a
``503`` problem with ``Retry-After``, logged as one line (no traceback: it is a condition of
the environment, not a bug). The handler sits in Starlette's exception middleware, so the
connection stays open for the client's next request, unlike an unhandled 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa

from takedown import metrics
from takedown.db.errors import is_unavailable
from takedown.web.problems import problem

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    if not is_unavailable(error):
        # A real bug (a constraint, bad SQL): the generic handler logs it with its traceback.
        raise error
    metrics.count_database_unavailable()
    cause = error.orig if isinstance(error, sa.DBAPIError) else error
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        str(cause).splitlines()[0] if str(cause) else type(cause).__name__,
    )
    response = problem(
        503,
        "Service unavailable",
        "the database is unavailable or busy; retry shortly",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(sa.OperationalError, _database_error)
    app.add_exception_handler(sa.DBAPIError, _database_error)
    app.add_exception_handler(sa.TimeoutError, _database_error)
