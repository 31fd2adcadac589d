"""Jobs of the police domain: a deconfliction wait running out, and a hold ending.

Both reload everything from their ids and do nothing when the state has moved on (police
answered, the case was re-routed, the hold was released), so running one twice, or late, is
harmless.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from takedown.jobs.registry import JobContext, job_handler
from takedown.notices.steps import POLICE_TIMEOUT_JOB
from takedown.police import service

log = logging.getLogger(__name__)


@job_handler(POLICE_TIMEOUT_JOB)
def police_timeout(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Police have not cleared or held the case in time: proceed or remind, as the rule says.

    Payload: ``case_id``, ``step_id`` (the police deconfliction step).
    """
    outcome = service.police_timed_out(
        ctx.session, uuid.UUID(payload["step_id"]), settings=ctx.settings, now=ctx.clock.now()
    )
    log.info("police wait of case %s ran out: %s", payload.get("case_id"), outcome)


@job_handler(service.HOLD_END_JOB)
def hold_end(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Release a hold whose ``until`` has come, unless police released it already.

    Payload: ``hold_id``.
    """
    service.hold_ended(
        ctx.session, uuid.UUID(payload["hold_id"]), settings=ctx.settings, now=ctx.clock.now()
    )
