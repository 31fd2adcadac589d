"""``GET /metrics`` for Prometheus and the HTTP request metrics.

The endpoint exists only when ``TAKEDOWN_METRICS_TOKEN`` is set (otherwise 404, as for any
unknown path: nothing says metrics exist), and answers only a request bearing that token
(``Authorization: Bearer <token>``, compared in constant time; 401 otherwise). It passes the
admission gate without a slot (``web/admission.py``), so it still answers while the API sheds
load, and is left out of the OpenAPI document: it is for operators, not API clients.

What it serves: the counters and histograms of every process sharing the metrics directory
(``takedown.metrics``), and gauges of the system's state read from the database at scrape
time by a collector the app passes in (``takedown.gauges``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from takedown import metrics
from takedown.errors import Unauthorized
from takedown.web.deps import AppState

PATH = "/metrics"
# Requests no route matched (404s, shed requests) share one label value: raw paths would let
# anyone who sends requests create series, and may hold case ids or reported URLs.
UNMATCHED = "<unmatched>"

# Builds the scrape-time collector of the system's state for one app.
StateCollector = Callable[[AppState], Collector]


class RequestMetricsMiddleware:
    """Count every HTTP request and time it, labelled by its route's template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or metrics.directory() is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            metrics.observe_request(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )


def route_template(scope: Scope) -> str:
    """The path template of the route that handled the request (``/api/v1/cases/{case_id}``)."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    return UNMATCHED


def install(app: FastAPI, token: str, state_collector: StateCollector) -> None:
    """Add ``GET /metrics`` when a token is configured; without one there is no endpoint."""
    if not token:
        return
    expected = f"Bearer {token}".encode()

    @app.get(PATH, include_in_schema=False)
    def serve_metrics(request: Request) -> Response:
        # compare_digest: the time taken says nothing about how much of a guess was right.
        presented = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(presented, expected):
            raise Unauthorized("send the metrics token: Authorization: Bearer <token>")
        state: AppState = request.app.state.takedown
        body = exposition(metrics.directory(), [state_collector(state)])
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def exposition(directory: Path | None, collectors: Iterable[Collector]) -> bytes:
    """Every process's counters from ``directory``, then ``collectors``, in the text format."""
    registry = CollectorRegistry()
    if directory is not None:
        MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
