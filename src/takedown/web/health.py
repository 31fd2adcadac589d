"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from takedown.db.migrate import current_revision, head_revision
from takedown.web.deps import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (async: it needs no thread, so it answers even when all are busy)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(state: State) -> JSONResponse:
    """The database answers and its schema is at the code's migration head."""
    try:
        with state.database.transaction() as session:
            session.execute(text("SELECT 1"))
            current = current_revision(session.connection())
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    head = head_revision()
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "reachable",
                "migrations": f"at {current}, code needs {head}",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "reachable", "migrations": "current"})
