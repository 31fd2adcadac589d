"""Notices: made from route steps, re-notices and escalations; sent by the ``notices.send`` job.

A notice is created (with its X-ARF documents, as they will be sent) in the transaction that
decides it, and its send job is enqueued in the same transaction, so a decided notice is
always sent and a rolled-back decision never is. The answer link's token is an HMAC of the
notice id under the secret key: the database holds only its SHA-256, so a copy of the
database cannot answer for a provider, and the send job can rebuild the link at any retry.

A delivery whose outcome is unknown (its worker died after the receiver may have taken the
notice) is never cancelled: ``sending_started_at`` keeps the start of that attempt until the
notice is sent, and a notice that may be out is recorded as sent from then (see
``record_uncertain``) when it is not to be sent again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import SYSTEM, Principal
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseItem, ItemVerdict
from takedown.config import Settings
from takedown.errors import NotFound
from takedown.intake.service import new_reference
from takedown.jobs import service as jobs
from takedown.notices.documents import NoticeContent, NoticeItem
from takedown.notices.message import make_message_id
from takedown.notices.models import Notice, NoticeChannel, NoticeKind, NoticeStatus
from takedown.notices.xarf import build_xarf
from takedown.orgs.models import Organization
from takedown.police.holds import preservation_asked
from takedown.tracing.service import latest_trace
from takedown.urls import registered_domain

SEND_JOB = "notices.send"
OPEN = frozenset({NoticeStatus.QUEUED, NoticeStatus.HELD, NoticeStatus.SENDING})


def notice_token(settings: Settings, notice_id: uuid.UUID) -> str:
    """The answer link's token: unguessable without the secret key, rebuilt on every send."""
    mac = hmac.new(
        settings.secret_key.encode(), f"notice-answer:{notice_id}".encode(), hashlib.sha256
    )
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def answer_url(settings: Settings, notice_id: uuid.UUID) -> str:
    return (
        f"{settings.public_base_url.rstrip('/')}/notices/answer/{notice_token(settings, notice_id)}"
    )


def contact_of(org: Organization | None, fallback_email: str | None) -> tuple[NoticeChannel, str]:
    """Where a notice to ``org`` goes: its webhook (with a secret), its abuse address, or the
    address RDAP gave for an organization the directory does not know."""
    if org is not None and org.webhook_url and org.webhook_secret:
        return NoticeChannel.WEBHOOK, org.webhook_url
    email = (org.abuse_email if org is not None else None) or fallback_email
    if email:
        return NoticeChannel.EMAIL, email
    return NoticeChannel.NONE, ""


def _illegal_items(session: Session, case: Case) -> list[CaseItem]:
    """The case's items that are known or confirmed material (read once per notice)."""
    return [
        item
        for item in cases.items(session, case.id)
        if item.verdict in (ItemVerdict.KNOWN, ItemVerdict.CONFIRMED)
    ]


def _notice_item(item: CaseItem) -> NoticeItem:
    return NoticeItem(
        sha256=item.sha256,
        md5=item.md5,
        sha1=item.sha1,
        pdq=item.pdq,
        classification=item.classification,
        media_type=item.content_type.split("/")[0],
    )


def content_of(session: Session, notice: Notice, case: Case, settings: Settings) -> NoticeContent:
    """What a notice says, from the case as it is now."""
    trace = latest_trace(session, case.id)
    addresses = [a["ip"] for a in (trace.data.get("addresses", []) if trace else [])]
    previous = _chain(session, notice)
    preserve = preservation_asked(session, case.id)
    items = _illegal_items(session, case)
    return NoticeContent(
        reference=notice.reference,
        kind=notice.kind.value,
        case_reference=str(case.id),
        urls=[case.url],
        host=case.host,
        ip_addresses=addresses,
        items=[_notice_item(item) for item in items],
        # Every item matched a bank automatically: no person looked at it.
        detection_method="hash_match"
        if items and all(item.automatic for item in items)
        else "manual_review",
        country=notice.country,
        language=notice.language,
        recipient_name=notice.org_name,
        # Police are asked to assess, a registry to look at the domain; the others to remove.
        asks_removal=notice.kind not in (NoticeKind.POLICE_REFERRAL, NoticeKind.DOMAIN_ALERT),
        asks_preservation=preserve or notice.kind is NoticeKind.POLICE_REFERRAL,
        deadline=notice.deadline_at,
        answer_url=answer_url(settings, notice.id),
        reply_to=settings.hotline_email,
        first_noticed_at=case.first_notice_at,
        previous_notice_references=[p.reference for p in previous],
        escalation_reason=None,
        sent_at=notice.created_at,
        domain=registered_domain(case.host, icann_only=True),
    )


def _chain(session: Session, notice: Notice) -> list[Notice]:
    """The notices this one follows, oldest first."""
    found: list[Notice] = []
    current = notice.previous_id
    while current is not None and len(found) < 20:
        previous = session.get(Notice, current)
        if previous is None:
            break
        found.append(previous)
        current = previous.previous_id
    return list(reversed(found))


def create_notice(
    session: Session,
    case: Case,
    *,
    kind: NoticeKind,
    org: Organization | None,
    org_name: str,
    country: str | None,
    settings: Settings,
    now: datetime,
    step_id: uuid.UUID | None = None,
    previous: Notice | None = None,
    level: int = 0,
    fallback_email: str | None = None,
    actor: Principal = SYSTEM,
) -> Notice:
    """Decide a notice and queue its sending (unless the organization has no contact)."""
    channel, recipient = contact_of(org, fallback_email)
    notice_id = uuid.uuid4()
    notice = Notice(
        id=notice_id,
        reference=new_reference("N"),
        case_id=case.id,
        step_id=step_id,
        org_id=org.id if org else None,
        org_name=org_name,
        kind=kind,
        channel=channel,
        recipient=recipient,
        language=(org.language if org else None) or "en",
        country=country,
        status=NoticeStatus.QUEUED,
        escalation_level=level,
        previous_id=previous.id if previous else None,
        created_at=now,
        deadline_at=now + settings.notice_deadline,
        message_id=make_message_id(str(notice_id), settings.hotline_domain),
        token_hash=token_digest(notice_token(settings, notice_id)),
        token_expires_at=now + settings.notice_token_ttl,
        document=[],
    )
    session.add(notice)
    notice.document = build_xarf(content_of(session, notice, case, settings), settings)
    session.flush()
    where = f"{kind.label} {notice.reference} to {org_name}"
    if channel is NoticeChannel.NONE:
        notice.status = NoticeStatus.FAILED
        notice.last_error = "the organization has no abuse e-mail or webhook"
        cases.add_event(
            session,
            case,
            "notice_blocked",
            f"{where}: no contact; find one",
            actor=actor.label,
            at=now,
            data={"notice_id": str(notice_id)},
        )
        case.escalated_at = case.escalated_at or now
        return notice
    cases.add_event(
        session,
        case,
        "notice_queued",
        f"{where} by {channel.value}",
        actor=actor.label,
        at=now,
        data={"notice_id": str(notice_id), "kind": kind.value, "reference": notice.reference},
    )
    audit.record(
        session,
        actor,
        "notice.create",
        "notice",
        notice_id,
        at=now,
        details={"case_id": str(case.id), "kind": kind.value, "org": org_name},
    )
    jobs.enqueue(
        session,
        SEND_JOB,
        {"notice_id": str(notice_id)},
        run_at=now,
        priority=jobs.PRIORITY_NOTICE,
    )
    return notice


def earlier_notice(
    session: Session, case_id: uuid.UUID, kind: NoticeKind, org_id: uuid.UUID | None, org_name: str
) -> Notice | None:
    """A notice of ``kind`` to the same organization about the case that is out or going out.

    A re-trace that finds the same host must not send the same notice twice.
    """
    for notice in case_notices(session, case_id):
        same_org = notice.org_id == org_id if org_id is not None else notice.org_name == org_name
        if notice.kind is kind and same_org and notice.status in OPEN | {NoticeStatus.SENT}:
            return notice
    return None


def get_notice(session: Session, notice_id: uuid.UUID) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    return notice


def by_reference(session: Session, reference: str) -> Notice:
    notice = session.scalar(select(Notice).where(Notice.reference == reference.strip().upper()))
    if notice is None:
        raise NotFound(f"no notice {reference!r}")
    return notice


def by_token(session: Session, token: str, now: datetime) -> Notice:
    """The notice an answer link belongs to; expired and unknown links are both NotFound."""
    notice = session.scalar(select(Notice).where(Notice.token_hash == token_digest(token)))
    if notice is None or notice.token_expires_at is None or notice.token_expires_at <= now:
        raise NotFound("this answer link is unknown or has expired")
    return notice


def case_notices(session: Session, case_id: uuid.UUID) -> Sequence[Notice]:
    return session.scalars(
        select(Notice).where(Notice.case_id == case_id).order_by(Notice.created_at, Notice.id)
    ).all()


def release_held(session: Session, case_id: uuid.UUID, now: datetime) -> int:
    """Queue again the case's notices a hold paused; returns how many."""
    held = session.scalars(
        select(Notice).where(Notice.case_id == case_id, Notice.status == NoticeStatus.HELD)
    ).all()
    for notice in held:
        notice.status = NoticeStatus.QUEUED
        jobs.enqueue(
            session,
            SEND_JOB,
            {"notice_id": str(notice.id)},
            run_at=now,
            priority=jobs.PRIORITY_NOTICE,
        )
    return len(held)


def cancel_open(session: Session, case_id: uuid.UUID, reason: str, *, now: datetime) -> int:
    """Cancel notices not yet sent (the content is gone); returns how many.

    A notice an earlier attempt may have delivered is recorded as sent instead: the receiver
    may have it, and may be why the content is gone. Notices ``sending`` are left to their
    job, whose attempt may still be running (it settles them the same way).
    """
    open_ = session.scalars(
        select(Notice).where(
            Notice.case_id == case_id, Notice.status.in_([NoticeStatus.QUEUED, NoticeStatus.HELD])
        )
    ).all()
    cancelled = 0
    for notice in open_:
        if uncertain_since(notice) is not None:
            record_uncertain(session, notice, cases.get_case(session, case_id), now, reason)
            continue
        notice.status = NoticeStatus.CANCELLED
        notice.last_error = reason
        cancelled += 1
    return cancelled


def uncertain_since(notice: Notice) -> datetime | None:
    """When the attempt started that may have delivered ``notice`` unrecorded, if one did.

    An attempt cut off after the receiver took the notice (a worker killed between the
    SMTP server's 250 and the record) leaves it ``sending``. The send job keeps
    ``sending_started_at`` while such a notice is held or queued again after a failure that
    was certain, and clears it after a certain failure of a notice no attempt may have
    delivered, so a start time on a notice not yet sent means exactly this.
    """
    if notice.status not in OPEN:
        return None
    return notice.sending_started_at


# Notices that tell the host (or the hotline of its country) about the content.
HOST_NOTICE_KINDS: Final = frozenset(
    {NoticeKind.NOTICE, NoticeKind.RENOTICE, NoticeKind.ESCALATION, NoticeKind.FORWARD}
)
# Spelled out in lists.alerts too, which imports this module.
_DOMAIN_ALERT_JOB: Final = "lists.domain_alert"


def wake_domain_alert(session: Session, notice: Notice, case: Case, now: datetime) -> None:
    """A notice to the host just went out: run the case's domain alert now.

    The alert waits for a sent host notice (``lists.alerts``) and looks again only hourly.
    With several workers it could look while the notice's transaction was still open, see
    nothing, and wait an hour. Enqueued in the transaction that marks the notice sent, this
    job can only run after that commit. The alert is idempotent, so an extra run is harmless.
    """
    if notice.kind in HOST_NOTICE_KINDS and case.registered_domain is not None:
        jobs.enqueue(session, _DOMAIN_ALERT_JOB, {"case_id": str(case.id)}, run_at=now)


def record_uncertain(
    session: Session, notice: Notice, case: Case, now: datetime, reason: str
) -> None:
    """Record as sent a notice that may be out and is not to be sent again.

    Its ``sent_at`` is when the attempt that may have delivered it started (when it was
    sent, if it was), so the case's first notice and its time to removal from notice count
    it; the timeline says the outcome was not known and why it is not sent again.
    """
    started = notice.sending_started_at or now
    notice.status = NoticeStatus.SENT
    notice.sent_at = started
    notice.last_error = None
    if case.first_notice_at is None or started < case.first_notice_at:
        case.first_notice_at = started
    wake_domain_alert(session, notice, case, now)
    cases.add_event(
        session,
        case,
        "notice_sent",
        f"{notice.kind.label} {notice.reference} to {notice.org_name} recorded as sent at"
        f" {started.isoformat(timespec='seconds')}: that {notice.channel.value} delivery"
        " attempt was cut off before its outcome was known, so the receiver may have it;"
        f" not sent again ({reason})",
        actor="system",
        at=now,
        data={
            "notice_id": str(notice.id),
            "attempts": notice.attempts,
            "outcome": "uncertain",
            "sent_at": started.isoformat(),
        },
    )
