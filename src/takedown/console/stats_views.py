"""The statistics page: a period's charts, each with the table it draws one click away.

Supervisors only (``cases:supervise``, as ``GET /api/v1/stats``). The period picker sends
``period`` (month, year or custom) with ``date`` or ``from`` and ``to``, as the API takes them;
a period that does not parse shows the page again with the reason, for the current month.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from takedown.auth.principal import Permission
from takedown.console.deps import Viewer, page, view
from takedown.errors import ValidationFailed
from takedown.stats import breakdowns, charts, periods
from takedown.stats.filters import Filters
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Supervisor = Annotated[Viewer, Depends(page(Permission.CASES_SUPERVISE))]
Text = Annotated[str | None, Query(max_length=32)]
PICKED = ("month", "year", "custom")


def page_charts(found: breakdowns.ChartFigures) -> list[charts.Chart]:
    """Every chart of the page, in the order shown."""
    return [
        charts.removal_distribution(found.buckets),
        charts.removal_trend(found.trend),
        charts.removal_shares(found.trend),
        charts.cases_by_outcome(found.outcomes),
        charts.cases_by_country(found.countries),
        charts.top_providers(found.scorecards),
    ]


@router.get("/console/stats", response_class=HTMLResponse)
def stats_page(
    request: Request,
    viewer: Supervisor,
    session: Tx,
    state: State,
    period: Annotated[str, Query(max_length=32)] = "month",
    date: Text = None,
    start: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=32)] = None,
) -> HTMLResponse:
    today = state.clock.now().date()
    error = None
    try:
        if period not in PICKED:
            raise ValidationFailed(f"period must be one of {', '.join(PICKED)}")
        chosen = periods.parse(period, date or None, today=today, start=start, end=end)
    except ValidationFailed as exc:
        error = exc.message
        chosen = periods.parse("month", None, today=today)
    found = breakdowns.chart_figures(session, chosen, Filters())
    return view(
        request,
        "console/stats.html",
        viewer,
        {
            "f": found.figures,
            "period": chosen,
            "picked": {"period": period, "date": date, "from": start, "to": end},
            "error": error,
            "charts": page_charts(found),
            # The SVG is built by charts (names inside it are escaped there), not from input.
            "svg": lambda chart: Markup(chart.svg),  # noqa: S704
            "human": charts.human,
            "percent": charts.percent,
        },
        status_code=422 if error else 200,
    )
