"""Jobs of the cases domain."""

from __future__ import annotations

import uuid
from typing import Any

from takedown.cases import capture, service
from takedown.cases.models import CaseState
from takedown.jobs.registry import JobContext, job_handler
from takedown.matching.lookup import index_of
from takedown.monitoring.build import build_fetcher


@job_handler("cases.capture")
def capture_case(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Fetch a new case's URL, hash its media, and assess what is known.

    Idempotent: a case that has moved on already is left alone, and the whole capture commits
    with the job or not at all.
    """
    case = service.get_case(ctx.session, uuid.UUID(payload["case_id"]))
    if case.state != CaseState.NEW:
        return
    capture.capture(
        ctx.session,
        case,
        fetcher=build_fetcher(ctx.settings),
        settings=ctx.settings,
        index=index_of(ctx.database, ctx.settings),
        now=ctx.clock.now(),
    )
