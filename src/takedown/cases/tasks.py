"""Jobs of the cases domain."""

from __future__ import annotations

import uuid
from typing import Any

from takedown.auth.principal import SYSTEM
from takedown.cases import service
from takedown.cases.models import CaseState
from takedown.jobs.registry import JobContext, job_handler


@job_handler("cases.triage")
def triage(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Move a new case into the assessment queue.

    This is where the automatic steps before a human look belong (capture and hash matching
    come next); for now a new case goes straight to the analysts. Idempotent: a case that has
    moved on already is left alone.
    """
    case = service.get_case(ctx.session, uuid.UUID(payload["case_id"]))
    if case.state != CaseState.NEW:
        return
    service.transition(
        ctx.session, case, CaseState.AWAITING_ASSESSMENT, SYSTEM, now=ctx.clock.now()
    )
