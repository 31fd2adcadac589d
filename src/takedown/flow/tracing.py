"""Jobs of the tracing domain."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from takedown.auth.principal import SYSTEM
from takedown.cases import service as cases
from takedown.cases.states import TRACEABLE
from takedown.jobs import service as jobs
from takedown.jobs.registry import JobContext, job_handler
from takedown.notices.steps import advance
from takedown.routing.service import route_case
from takedown.tracing import service
from takedown.tracing.build import tracer_for

TRACE_JOB = service.TRACE_JOB


@job_handler(TRACE_JOB)
def trace_case(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Trace a confirmed case's host and route the case by where it is hosted.

    Payload: ``case_id``; optionally ``origin`` (origin addresses behind a CDN, given by an
    analyst or the CDN), ``attempt`` and ``after`` (the trace a scheduled retry follows).
    A host that does not resolve, or only to private addresses, is traced again later (a
    site that is down now is often back tomorrow) up to ``trace_retry_limit`` times.
    Idempotent: the trace, the route and the next retry commit together or not at all, and a
    retry whose trace has been overtaken by a newer one does nothing.
    """
    case = cases.get_case(ctx.session, uuid.UUID(payload["case_id"]))
    if case.state not in TRACEABLE:
        return
    latest = service.latest_trace(ctx.session, case.id)
    after = payload.get("after")
    if after is not None and (latest is None or str(latest.id) != after):
        return
    attempt = int(payload.get("attempt", 1))
    now = ctx.clock.now()
    outcome = tracer_for(ctx.settings).trace(
        ctx.session, case.host, now=now, origin=[str(ip) for ip in payload.get("origin", [])]
    )
    trace = service.store(ctx.session, case, outcome, now=now, attempt=attempt)
    if not outcome.status.retry:
        route_case(ctx.session, case, trace, settings=ctx.settings, now=now, actor=SYSTEM)
        # Carry out the steps whose turn has come (police first, or the notices).
        advance(ctx.session, case, settings=ctx.settings, now=now)
        return
    if attempt <= ctx.settings.trace_retry_limit:
        interval: timedelta = ctx.settings.trace_retry_interval
        jobs.enqueue(
            ctx.session,
            TRACE_JOB,
            {"case_id": str(case.id), "attempt": attempt + 1, "after": str(trace.id)},
            run_at=now + interval,
        )
