"""The ``notices.send`` job: deliver one notice, once.

Three steps, so that a worker killed at any point never leaves the record wrong:

1. In its own short transaction, mark the notice ``sending`` and count the attempt. (No
   transaction is open while the SMTP server or webhook is talking, so a slow receiver
   never holds the database's write lock.)
2. Deliver, with the notice's stable Message-ID (e-mail) or Idempotency-Key (webhook).
3. Record the outcome in the job's transaction, which commits with the job's success.

A worker killed during step 2 leaves the notice ``sending``, and nobody knows whether the
receiver took it: the worker may have died after the SMTP server's 250 (or the webhook's 200)
and before step 3. The job's lease runs out and the next attempt decides:

* the case still wants the notice: deliver again, with the same Message-ID / Idempotency-Key,
  which is how receivers recognise a repeat (RFC 1047). This is the only copy if the first
  never arrived, and a harmless duplicate if it did;
* the content is gone (or the case is no longer confirmed): sending again would be noise, and
  cancelling would be false, since the provider may have removed it *because* of the notice.
  The notice is recorded as sent from the start of the attempt that may have delivered it,
  with the uncertainty on the timeline, so the case's time to removal from notice is known.

The start of that attempt (``sending_started_at``) is kept through a police hold and through
later attempts that certainly failed, so the notice is settled the same way then (see
``service.uncertain_since``). Temporary failures raise, so the job retries with backoff.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from takedown import metrics
from takedown.cases import service as cases
from takedown.cases.models import CaseState
from takedown.config import Settings
from takedown.errors import TakedownError
from takedown.jobs.registry import JobContext, job_handler
from takedown.monitoring.schedule import schedule_recheck
from takedown.notices import service
from takedown.notices.channels import DeliveryResult, SmtpSender, WebhookSender
from takedown.notices.message import build_email
from takedown.notices.models import Notice, NoticeChannel, NoticeStatus
from takedown.notices.render import render_email
from takedown.notices.steps import advance, finish_step
from takedown.orgs.models import Organization
from takedown.police.holds import active_hold


class DeliveryFailed(TakedownError):
    """A temporary delivery failure: the job is retried with backoff."""


@job_handler(service.SEND_JOB, max_attempts=12)
def send_notice(ctx: JobContext, payload: dict[str, Any]) -> None:
    notice_id = uuid.UUID(payload["notice_id"])
    now = ctx.clock.now()
    with ctx.database.transaction() as session:
        prepared = _claim(session, notice_id, ctx.settings, now)
    if prepared is None:
        return
    result = _deliver(prepared, ctx.settings)
    # What happened on the wire, counted even if this attempt's record is rolled back later.
    metrics.count_notice(
        prepared.channel.value,
        "sent" if result.accepted else "refused" if result.permanent else "failed",
    )
    if not result.accepted and not result.permanent:
        # Not delivered, for sure: queued again with the reason, and the job retries later.
        with ctx.database.transaction() as session:
            notice = service.get_notice(session, notice_id)
            notice.status = NoticeStatus.QUEUED
            notice.last_error = result.detail
            if prepared.earlier is None:
                # This attempt surely did not deliver it, and no earlier one may have.
                notice.sending_started_at = None
        raise DeliveryFailed(f"{prepared.reference}: {result.detail}")
    _record(ctx.session, notice_id, result, ctx.settings, now, prepared.earlier)


class _Prepared:
    def __init__(
        self, notice: Notice, body: Any, secret: str | None, earlier: datetime | None
    ) -> None:
        self.channel = notice.channel
        self.recipient = notice.recipient
        self.key = str(notice.id)
        self.reference = notice.reference
        self.body = body
        self.secret = secret
        # The start of an earlier attempt that may have delivered the notice, if any.
        self.earlier = earlier


def _claim(
    session: Session, notice_id: uuid.UUID, settings: Settings, now: datetime
) -> _Prepared | None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.status not in service.OPEN:
        return None
    case = cases.get_case(session, notice.case_id)
    earlier = service.uncertain_since(notice)
    wanted = case.removed_at is None and case.state is CaseState.CONFIRMED
    if earlier is not None and not wanted:
        why = "the content was removed" if case.removed_at else "the case is no longer confirmed"
        service.record_uncertain(session, notice, case, now, why)
        if notice.step_id is not None:
            finish_step(session, notice.step_id, now)
        return None
    if case.removed_at is not None:
        notice.status = NoticeStatus.CANCELLED
        notice.last_error = "the content was removed before the notice went out"
        return None
    if active_hold(session, case.id, now) is not None:
        notice.status = NoticeStatus.HELD
        maybe_out = (
            f"; an attempt at {earlier.isoformat(timespec='seconds')} may have delivered it"
            if earlier is not None
            else ""
        )
        cases.add_event(
            session,
            case,
            "notice_held",
            f"{notice.reference} to {notice.org_name} waits for the police hold to end{maybe_out}",
            actor="system",
            at=now,
            data={"notice_id": str(notice.id)},
        )
        return None
    notice.status = NoticeStatus.SENDING
    if earlier is None:
        notice.sending_started_at = now
    notice.attempts += 1
    content = service.content_of(session, notice, case, settings)
    if notice.channel is NoticeChannel.WEBHOOK:
        org = session.get(Organization, notice.org_id) if notice.org_id else None
        body = json.dumps(
            {
                "reference": notice.reference,
                "kind": notice.kind.value,
                "case": str(case.id),
                "urls": content.urls,
                "deadline": notice.deadline_at.isoformat(),
                "answer_url": content.answer_url,
                "xarf": notice.document,
            },
            separators=(",", ":"),
        ).encode()
        return _Prepared(notice, body, org.webhook_secret if org else None, earlier)
    rendered = render_email(content, settings)
    message = build_email(
        content, rendered, notice.document, settings, notice.message_id, notice.recipient
    )
    return _Prepared(notice, message, None, earlier)


def _deliver(prepared: _Prepared, settings: Settings) -> DeliveryResult:
    if prepared.channel is NoticeChannel.WEBHOOK:
        if not prepared.secret:
            return DeliveryResult(False, True, "the webhook has no shared secret")
        return WebhookSender.from_settings(settings).post(
            prepared.recipient, prepared.secret, prepared.body, prepared.key
        )
    if not settings.smtp_host:
        return DeliveryResult(False, False, "no SMTP server is configured (TAKEDOWN_SMTP_HOST)")
    return SmtpSender.from_settings(settings).send(prepared.body)


def _record(
    session: Session,
    notice_id: uuid.UUID,
    result: DeliveryResult,
    settings: Settings,
    now: datetime,
    earlier: datetime | None,
) -> None:
    notice = service.get_notice(session, notice_id)
    case = cases.get_case(session, notice.case_id)
    # A repeat of a delivery that may have arrived: the receiver sees the same notice twice.
    repeat = (
        f"; an attempt at {earlier.isoformat(timespec='seconds')} may have delivered it"
        " already, with the same "
        + ("Idempotency-Key" if notice.channel is NoticeChannel.WEBHOOK else "Message-ID")
        if earlier is not None
        else ""
    )
    if result.accepted:
        notice.status = NoticeStatus.SENT
        notice.sent_at = now
        notice.last_error = None
        if case.first_notice_at is None:
            case.first_notice_at = now
        service.wake_domain_alert(session, notice, case, now)
        data: dict[str, Any] = {
            "notice_id": str(notice.id),
            "attempts": notice.attempts,
            "outcome": "confirmed",
        }
        if earlier is not None:
            data["earlier_attempt_at"] = earlier.isoformat()
        cases.add_event(
            session,
            case,
            "notice_sent",
            f"{notice.kind.label} {notice.reference} sent to {notice.org_name}"
            f" ({notice.channel.value}: {result.detail}){repeat}",
            actor="system",
            at=now,
            data=data,
        )
        if notice.step_id is not None:
            finish_step(session, notice.step_id, now)
            advance(session, case, settings=settings, now=now)
        schedule_recheck(session, case.id, now + settings.recheck_first)
        return
    notice.last_error = result.detail
    notice.status = NoticeStatus.FAILED
    case.escalated_at = case.escalated_at or now
    cases.add_event(
        session,
        case,
        "notice_failed",
        f"{notice.reference} to {notice.org_name} was refused: {result.detail}{repeat}",
        actor="system",
        at=now,
        data={"notice_id": str(notice.id)},
    )
