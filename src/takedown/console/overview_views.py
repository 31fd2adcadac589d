"""The overview page: cases by state, what is late, time to removal this week, the queues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from takedown.auth.principal import Permission
from takedown.console import overview
from takedown.console.deps import Viewer, page, view
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(page(Permission.CASES_READ))]


@router.get("/console/overview", response_class=HTMLResponse)
def overview_page(request: Request, viewer: Reader, session: Tx, state: State) -> HTMLResponse:
    now = state.clock.now()
    figures = overview.overview(session, now, with_jobs=viewer.can(Permission.JOBS_READ))
    return view(
        request,
        "console/overview.html",
        viewer,
        {"o": figures, "human": overview.human, "now": now},
    )
