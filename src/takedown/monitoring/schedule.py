"""The re-check chain of a case: one due time per case, kept on the case.

Several events ask for a re-check (a notice sent, a provider saying it removed the content);
each moves ``Case.next_recheck_at`` to the earliest time asked and enqueues a job for that
time. A recheck job whose time is no longer the case's next one does nothing, so a case
never has two chains running side by side.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from takedown.cases.models import Case
from takedown.jobs import service as jobs

RECHECK_JOB = "monitoring.recheck"


def schedule_recheck(
    session: Session, case_id: uuid.UUID, at: datetime, *, replace: bool = False
) -> None:
    """Re-check the case at ``at`` (or earlier, if one is due earlier; ``replace`` moves it)."""
    case = session.get_one(Case, case_id)
    if case.removed_at is not None:
        return
    if not replace and case.next_recheck_at is not None and case.next_recheck_at <= at:
        return
    case.next_recheck_at = at
    jobs.enqueue_unique(
        session,
        RECHECK_JOB,
        {"case_id": str(case_id), "at": at.isoformat()},
        dedup_key=f"recheck:{case_id}:{at.isoformat()}",
        run_at=at,
    )
