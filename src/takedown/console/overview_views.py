"""The overview page: cases by state, what is late, time to removal this week, the queues, and
for those who may read statistics (as ``/console/stats``) two charts of recent weeks and months.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from takedown.auth.principal import Permission
from takedown.console import overview
from takedown.console.deps import Viewer, page, view
from takedown.stats.charts import Chart
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(page(Permission.CASES_READ))]


@router.get("/console/overview", response_class=HTMLResponse)
def overview_page(request: Request, viewer: Reader, session: Tx, state: State) -> HTMLResponse:
    now = state.clock.now()
    figures = overview.overview(
        session,
        now,
        with_jobs=viewer.can(Permission.JOBS_READ),
        with_charts=viewer.can(Permission.CASES_SUPERVISE),
    )
    return view(
        request,
        "console/overview.html",
        viewer,
        {"o": figures, "human": overview.human, "now": now, "svg": _svg},
    )


def _svg(chart: Chart) -> Markup:
    # The SVG is built by stats.charts (names inside it are escaped there), not from input.
    return Markup(chart.svg)  # noqa: S704
