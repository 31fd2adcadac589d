"""The ``monitoring.recheck`` job: is the content still there?

The fetch happens with no database transaction open (a slow host must not hold SQLite's
write lock); what was read is checked again when the result is written, so a case that
moved on meanwhile is left alone. Removal is recorded only when the re-check sees it: a
provider saying "removed" only brings the re-check forward.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takedown import runtime
from takedown.auth.principal import SYSTEM
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseState, ItemVerdict
from takedown.config import Settings
from takedown.fetch.build import build_fetcher
from takedown.jobs.registry import JobContext, job_handler
from takedown.lists import entries
from takedown.monitoring.followup import follow_up
from takedown.monitoring.models import Recheck
from takedown.monitoring.removal import KnownItem, RecheckOutcome, RecheckStatus, recheck
from takedown.monitoring.schedule import RECHECK_JOB, schedule_recheck
from takedown.notices import service as notices
from takedown.police import service as police
from takedown.police.holds import active_hold


@job_handler(RECHECK_JOB)
def recheck_case(ctx: JobContext, payload: dict[str, Any]) -> None:
    case_id = uuid.UUID(payload["case_id"])
    with ctx.database.sessions() as session:
        case = cases.get_case(session, case_id)
        if not _due(case, payload.get("at")):
            return
        url = case.url
        known = [
            KnownItem(id=str(i.id), sha256=i.sha256, md5=i.md5, pdq=i.pdq, url=i.url)
            for i in cases.items(session, case_id)
            if i.verdict in (ItemVerdict.KNOWN, ItemVerdict.CONFIRMED)
        ]
    now = ctx.clock.now()
    outcome = recheck(
        build_fetcher(ctx.settings),
        url,
        known,
        max_media=ctx.settings.capture_max_media_per_page,
        now=now,
        pdq_threshold=ctx.settings.pdq_threshold,
        quality_floor=ctx.settings.pdq_quality_floor,
    )
    case = cases.get_case(ctx.session, case_id)
    if not _due(case, payload.get("at")):
        return
    # Re-notice timing and the like may have been changed by an administrator.
    settings = runtime.effective(ctx.session, ctx.settings)
    record(ctx.session, case, outcome, settings=settings, now=now)


def _due(case: Case, at: str | None) -> bool:
    """Whether this job is the case's current re-check (not one a later event replaced)."""
    if case.removed_at is not None or case.state is not CaseState.CONFIRMED:
        return False
    return at is None or case.next_recheck_at == datetime.fromisoformat(at)


def record(
    session: Session, case: Case, outcome: RecheckOutcome, *, settings: Settings, now: datetime
) -> Recheck:
    """Keep the re-check; on removal close the case, else follow up and schedule the next."""
    row = Recheck(
        case_id=case.id,
        checked_at=now,
        status=outcome.status.value,
        reason=outcome.reason,
        http_status=outcome.http_status,
        evidence=outcome.evidence,
    )
    session.add(row)
    case.next_recheck_at = None
    if outcome.status is RecheckStatus.REMOVED:
        _removed(session, case, outcome, now)
        return row
    cases.add_event(
        session,
        case,
        "rechecked",
        f"Still {outcome.status.value}: {outcome.detail}",
        actor="system",
        at=now,
        data={"status": outcome.status.value, "reason": outcome.reason},
    )
    if outcome.status is RecheckStatus.LIVE and active_hold(session, case.id, now) is None:
        follow_up(session, case, settings=settings, now=now)
        _list_if_unremoved(session, case, settings=settings, now=now)
    listed = bool(entries.case_entries(session, case.id))
    if listed or now - case.first_reported_at < settings.recheck_give_up_after:
        # A listed URL is re-checked for as long as it is listed (at least twice a day), so
        # that it leaves the list soon after its content goes.
        interval = settings.recheck_interval
        if listed:
            interval = min(interval, settings.list_recheck_interval)
        schedule_recheck(session, case.id, now + interval, replace=True)
    return row


def _list_if_unremoved(session: Session, case: Case, *, settings: Settings, now: datetime) -> None:
    """List a case noticed at home whose content outlived ``list_unremoved_after``."""
    after = settings.list_unremoved_after
    if not after or case.first_notice_at is None or now - case.first_notice_at < after:
        return
    if police.police_steps(session, case.id):
        return  # another part of the route still waits for police: nothing public yet
    hours = after.total_seconds() / 3600
    entries.list_case(
        session,
        case,
        actor=SYSTEM,
        reason=f"not removed {hours:g} h after the first notice",
        now=now,
    )


def _removed(session: Session, case: Case, outcome: RecheckOutcome, now: datetime) -> None:
    case.removed_at = now
    cancelled = notices.cancel_open(session, case.id, "the content was removed", now=now)
    hours = (now - case.first_reported_at).total_seconds() / 3600
    cases.add_event(
        session,
        case,
        "removed",
        f"Content removed ({outcome.reason}: {outcome.detail}); {hours:.1f} h after the first "
        "report",
        actor="system",
        at=now,
        data={
            "reason": outcome.reason,
            "from_first_report_seconds": (now - case.first_reported_at).total_seconds(),
            "from_first_notice_seconds": (now - case.first_notice_at).total_seconds()
            if case.first_notice_at
            else None,
            "cancelled_notices": cancelled,
        },
    )
    entries.withdraw_for_case(session, case, actor=SYSTEM, now=now, reason="content removed")
    cases.transition(
        session, case, CaseState.CLOSED, SYSTEM, now=now, note="content removed, seen by re-check"
    )
