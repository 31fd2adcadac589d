"""``GET /transparency``: the latest complete year's transparency report, public.

Off unless ``TAKEDOWN_TRANSPARENCY_PAGE`` is set (then a 404, as if it did not exist). The
page is the report rendered on the fly with suppression, not a stored copy: there is nothing
to publish or forget to publish, and the figures are those of the rows kept and the daily
aggregates at the time of the request. The year is the last one that has ended, so the page
does not change under readers during the year, except where late data lands in it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from takedown.errors import NotFound
from takedown.stats import report
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)


@router.get("/transparency")
def transparency(session: Tx, state: State) -> Response:
    if not state.settings.transparency_page:
        raise NotFound("no such page")
    now = state.clock.now()
    built = report.build(
        session,
        report.latest_complete_year(now.date()),
        below=state.settings.stats_suppress_below,
        hotline=state.settings.hotline_name,
        now=now,
    )
    return Response(
        report.render(built, "html"),
        media_type=report.MEDIA_TYPES["html"],
        headers={"Content-Security-Policy": report.CSP, "Cache-Control": "public, max-age=3600"},
    )
