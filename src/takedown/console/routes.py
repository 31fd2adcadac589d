"""All console pages, mounted under /console by ``install``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from takedown.console import (
    approvals_views,
    auth_views,
    case_views,
    deps,
    exposure_views,
    overview_views,
    police_views,
    queue_views,
    report_views,
    stats_views,
)
from takedown.console.admin import router as admin_router

ROUTERS = (
    auth_views.router,
    queue_views.router,
    case_views.router,
    exposure_views.router,
    approvals_views.router,
    police_views.router,
    admin_router,
    overview_views.router,
    stats_views.router,
    report_views.router,
)


def install(app: FastAPI) -> None:
    deps.install(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/console", include_in_schema=False)
    def console_home() -> RedirectResponse:
        return RedirectResponse("/console/overview", status_code=303)
