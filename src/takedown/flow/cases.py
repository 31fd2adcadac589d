"""Jobs of the cases domain."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from takedown.auth.principal import SYSTEM
from takedown.cases import capture, service
from takedown.cases.models import Case, CaseState
from takedown.fetch.build import build_fetcher
from takedown.jobs.registry import JobContext, job_handler
from takedown.matching.lookup import index_of

# A backstop for the worker's lease; capture itself stops starting new work once its own
# budget (``capture_max_seconds``) is spent, so this is reached only by a stuck fetch.
CAPTURE_TIMEOUT = timedelta(minutes=15)


def capture_died(ctx: JobContext, payload: dict[str, Any], error: str) -> None:
    """A capture that gave up sends its case to the analysts, with the reason on its timeline.

    Without this the case stayed ``new`` for ever, waiting for a capture that would never run.
    """
    case = ctx.session.get(Case, uuid.UUID(payload["case_id"]))
    if case is None or case.state != CaseState.NEW:
        return
    service.transition(
        ctx.session,
        case,
        CaseState.AWAITING_ASSESSMENT,
        SYSTEM,
        now=ctx.clock.now(),
        note=f"capture failed: {error}",
        data={"capture_failed": True, "job_id": str(ctx.job_id), "attempts": ctx.attempt},
    )


@job_handler("cases.capture", timeout=CAPTURE_TIMEOUT, on_dead=capture_died)
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
