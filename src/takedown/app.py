"""The application factory: settings in, a configured FastAPI app out."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from takedown import __version__, metrics
from takedown.assessment.api import router as assessment_router
from takedown.auth.api import router as auth_router
from takedown.cases.api import router as cases_router
from takedown.clock import Clock, SystemClock
from takedown.config import Settings
from takedown.console.routes import install as install_console
from takedown.db.session import Database
from takedown.gauges import StateCollector
from takedown.intake.api import router as intake_router
from takedown.intake.views import router as intake_views
from takedown.jobs.api import router as jobs_router
from takedown.lists.api import router as lists_router
from takedown.lists.appeals_api import router as appeals_router
from takedown.lists.views import router as list_pages
from takedown.matching.api import router as matching_router
from takedown.matching.hma_api import router as hma_router
from takedown.notices.api import router as notices_router
from takedown.notices.views import public_router as notice_pages
from takedown.orgs.api import router as orgs_router
from takedown.police.api import router as police_router
from takedown.routing.api import router as routing_router
from takedown.stats.api import router as stats_router
from takedown.stats.views import router as transparency_page
from takedown.tracing.api import router as tracing_router
from takedown.web import metrics as web_metrics
from takedown.web import problems, unavailable
from takedown.web.admission import AdmissionMiddleware, Gate
from takedown.web.deps import AppState
from takedown.web.docs import router as docs_router
from takedown.web.guard import ControlCharacterGuard
from takedown.web.health import router as health_router
from takedown.web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from takedown.web.ratelimit import RateLimiter
from takedown.web.templating import STATIC_DIR

DESCRIPTION = """
Takedown gets child sexual abuse material removed from the internet: reports from the
public, trusted flaggers, police and partner hotlines become cases keyed by canonical URL.

Authenticate with `Authorization: Bearer <API key>` (organizations) or a staff session
cookie from `POST /api/v1/auth/login`. Errors are `application/problem+json` (RFC 9457).
"""


class TakedownApp(FastAPI):
    """FastAPI with the security headers around everything else.

    Starlette puts its own error middleware (the 500 page) outside every added middleware;
    wrapping the whole stack here is what gives every response the headers, that one too.
    """

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.takedown.settings
        hsts = settings.hsts_max_age if settings.secure_cookies else 0
        return SecurityHeadersMiddleware(super().build_middleware_stack(), hsts_max_age=hsts)


def create_app(
    settings: Settings, *, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    # docs_url=None: FastAPI's /docs loads Swagger UI from a CDN; web/docs.py serves our own.
    app = TakedownApp(
        title="Takedown",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    window = settings.rate_limit_window_seconds
    app.state.takedown = AppState(
        settings=settings,
        database=database or Database.from_settings(settings),
        clock=clock or SystemClock(),
        public_limiter=RateLimiter(settings.public_rate_limit, window),
        key_limiter=RateLimiter(settings.api_rate_limit, window),
    )
    problems.install(app)
    unavailable.install(app)
    if settings.metrics_token:
        metrics.configure(settings.metrics_directory)
    web_metrics.install(app, settings.metrics_token, StateCollector)
    for router in (
        health_router,
        docs_router,
        auth_router,
        intake_router,
        cases_router,
        assessment_router,
        tracing_router,
        routing_router,
        orgs_router,
        notices_router,
        notice_pages,
        police_router,
        lists_router,
        jobs_router,
        matching_router,
        hma_router,
        appeals_router,
        stats_router,
        intake_views,
        list_pages,
        transparency_page,
    ):
        app.include_router(router)
    install_console(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/report", status_code=302)

    # Each middleware added wraps the ones before it; TakedownApp adds the security headers
    # outside them all, so a shed request's 503 and the body limit's 413 carry them too.
    # Innermost: no route sees a control character in a path, query string or form.
    app.add_middleware(ControlCharacterGuard)
    app.add_middleware(
        AdmissionMiddleware,
        gate=Gate(settings.max_concurrent_requests),
        wait_seconds=settings.admission_wait_seconds,
    )
    # Added last, so outside the others: the body limit applies before anything reads it.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    # Outside the gate, so a request's time includes its wait for a slot.
    app.add_middleware(web_metrics.RequestMetricsMiddleware)
    return app
