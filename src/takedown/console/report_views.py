"""The transparency report in the console: supervisors pick a year and a format and download
it (``takedown.stats.report``), the same file ``takedown stats report`` writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from takedown.auth.principal import Permission
from takedown.console.deps import Viewer, page, view
from takedown.stats import report
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Supervisor = Annotated[Viewer, Depends(page(Permission.CASES_SUPERVISE))]


@router.get("/console/transparency", response_class=HTMLResponse)
def transparency_page(request: Request, viewer: Supervisor, state: State) -> HTMLResponse:
    this_year = state.clock.now().year
    context = {
        "years": list(range(this_year, this_year - 6, -1)),
        "default_year": report.latest_complete_year(state.clock.now().date()),
        "formats": report.FORMATS,
        "below": state.settings.stats_suppress_below,
    }
    return view(request, "console/transparency.html", viewer, context)


@router.get("/console/transparency/report")
def download(
    viewer: Supervisor,
    session: Tx,
    state: State,
    year: Annotated[int, Query(ge=2000, le=9998)],
    fmt: Annotated[str, Query(alias="format", pattern="^(html|csv|json)$")] = "html",
) -> Response:
    built = report.build(
        session,
        year,
        below=state.settings.stats_suppress_below,
        hotline=state.settings.hotline_name,
        now=state.clock.now(),
    )
    headers = {
        "Content-Disposition": f'attachment; filename="{report.filename(built, fmt)}"',
        "Cache-Control": "no-store",
    }
    if fmt == "html":
        headers["Content-Security-Policy"] = report.CSP
    return Response(report.render(built, fmt), media_type=report.MEDIA_TYPES[fmt], headers=headers)
