"""Appeals against the URL list: from the public form to a supervisor's decision.

Anyone can appeal: somebody whose network blocks a page (``blocked_url``), or a host that got
a notice (``notice``). The appeal is linked, when it is filed, to the live list entries that
make its URLs listed (and, for a notice, to the live entries of the notice's case).

Four eyes: only a supervisor who took no part in the original decision may suspend the
entries while reviewing (``delist``) or decide. The original decision makers are whoever
added or approved an entry, and whoever confirmed the case behind it. An upheld appeal
withdraws the entries for good, a rejected one puts suspended entries back on the list; either
way the appellant is told by e-mail (``lists.appeal_tell``, see ``appeal_tasks``).

The public side never learns whether an address is on the list: the form's answer is the same
whether or not any entry matched, so it cannot be used to probe the (confidential) list.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import PUBLIC, SYSTEM, Principal
from takedown.cases import service as cases
from takedown.cases.models import CaseEvent, CaseState
from takedown.config import Settings
from takedown.errors import Conflict, Forbidden, InvalidURL, NotFound, ValidationFailed
from takedown.intake.service import new_reference
from takedown.jobs import service as jobs
from takedown.lists import entries
from takedown.lists.models import (
    Appeal,
    AppealStatus,
    AppealSubject,
    EntryStatus,
    UrlEntry,
)
from takedown.notices.message import REFERENCE_HEADER, make_message_id
from takedown.notices.models import Notice
from takedown.notices.render import oneline
from takedown.urls.canonical import split_url

TELL_JOB: Final = "lists.appeal_tell"
REFERENCE_PREFIX: Final = "AP"
REFERENCE_PATTERN: Final = re.compile(r"^AP-[0-9A-Z]{5}-[0-9A-Z]{5}$")
_NOTICE_REFERENCE: Final = re.compile(r"^[A-Z]{1,3}-[0-9A-Z]{5}-[0-9A-Z]{5}$")

# Limits of the public form. The URL is bounded well below the canonicalizer's 8192: a page
# address that long is never what somebody typed or pasted from a block page.
MAX_URLS: Final = 20
MAX_URL: Final = 2048
MAX_REASONS: Final = 5000
MAX_NETWORK: Final = 200  # Appeal.network
MAX_SEEN_AT: Final = 100  # Appeal.seen_at
MAX_CONTACT: Final = 254  # the longest address SMTP can carry (RFC 5321 path limit)
MAX_NOTICE_REFERENCE: Final = 64
MAX_NOTE: Final = 5000
# One address, nothing a mail header could read as a second recipient, a display name or a
# new header line: no whitespace, comma, semicolon, angle brackets, quotes or backslash.
_EMAIL: Final = re.compile(
    r"^[^@\s\"<>(),;:\\\[\]]{1,64}@[^@\s\"<>(),;:\\\[\]]+\.[^@\s.\"<>(),;:\\\[\]]+$", re.ASCII
)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Outcome = Literal["upheld", "rejected"]
OUTCOMES: Final[dict[str, AppealStatus]] = {
    "upheld": AppealStatus.UPHELD,
    "rejected": AppealStatus.REJECTED,
}
DECIDABLE: Final = (AppealStatus.OPEN, AppealStatus.DELISTED)
UPHELD_REASON: Final = "appeal upheld"


class AppealInvalid(ValidationFailed):
    """The form has errors; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)
        self.errors = errors


@dataclass(frozen=True)
class AppealForm:
    """The public form as submitted: raw text, nothing checked yet."""

    subject: str = AppealSubject.BLOCKED_URL.value
    url: str = ""
    network: str = ""
    seen_at: str = ""
    notice_reference: str = ""
    urls: str = ""
    contact: str = ""
    reasons: str = ""


@dataclass
class _Clean:
    subject: AppealSubject
    urls: list[str] = field(default_factory=list)
    network: str = ""
    seen_at: str = ""
    notice: Notice | None = None
    contact: str = ""
    reasons: str = ""


# -- filing ------------------------------------------------------------------------------------


def file_appeal(session: Session, form: AppealForm, *, now: datetime) -> Appeal:
    """Check the public form and store the appeal with the live entries it is about.

    Raises ``AppealInvalid`` with every field's problem at once, having stored nothing.
    """
    clean = _check(session, form)
    found: dict[uuid.UUID, UrlEntry] = {}
    for url in clean.urls:
        found.update((e.id, e) for e in entries.entries_for_url(session, url))
    if clean.notice is not None:
        found.update((e.id, e) for e in entries.case_entries(session, clean.notice.case_id))
    appeal = Appeal(
        reference=new_reference(REFERENCE_PREFIX),
        subject=clean.subject,
        status=AppealStatus.OPEN,
        urls=clean.urls,
        network=clean.network,
        seen_at=clean.seen_at,
        notice_reference=clean.notice.reference if clean.notice else None,
        contact=clean.contact,
        reasons=clean.reasons,
        created_at=now,
        entry_ids=[str(i) for i in sorted(found, key=lambda i: found[i].added_at)],
    )
    session.add(appeal)
    session.flush()
    # The hash-chained audit log cannot be edited later, so no personal data goes in it:
    # neither the contact nor the reasons, only what the appeal is about.
    audit.record(
        session,
        PUBLIC,
        "appeal.file",
        "appeal",
        appeal.id,
        at=now,
        details={
            "reference": appeal.reference,
            "subject": appeal.subject.value,
            "entry_ids": appeal.entry_ids,
        },
    )
    return appeal


def _check(session: Session, form: AppealForm) -> _Clean:
    errors: dict[str, str] = {}
    try:
        subject = AppealSubject(form.subject)
    except ValueError:
        # Not a field a person types: a tampered form. Nothing else is worth checking.
        raise AppealInvalid({"subject": "Choose what your appeal is about."}) from None
    clean = _Clean(subject=subject)
    if subject is AppealSubject.BLOCKED_URL:
        _url(form.url, clean, errors)
        clean.network = _line("network", form.network, MAX_NETWORK, errors, required=True)
        clean.seen_at = _line("seen_at", form.seen_at, MAX_SEEN_AT, errors, required=False)
    else:
        clean.notice = _notice(session, form.notice_reference, errors)
        _url_lines(form.urls, clean, errors)
    clean.contact = _contact(form.contact, errors)
    clean.reasons = _reasons(form.reasons, errors)
    if errors:
        raise AppealInvalid(errors)
    return clean


def _line(name: str, raw: str, limit: int, errors: dict[str, str], *, required: bool) -> str:
    # One-line fields: runs of whitespace (newlines included) become one space.
    text = " ".join(_CONTROL.sub(" ", raw).split())
    if required and not text:
        errors[name] = "Please fill this in."
    elif len(text) > limit:
        errors[name] = f"At most {limit} characters."
    return text


def _checked_url(raw: str) -> str:
    """The URL as the appellant gave it, trimmed, once it is a URL the list could hold."""
    text = raw.strip()
    if len(text) > MAX_URL:
        raise InvalidURL(f"at most {MAX_URL} characters")
    # People paste addresses without the scheme; the list keys on host and path only.
    split_url(text if "://" in text else f"http://{text}")
    return text


def _url(raw: str, clean: _Clean, errors: dict[str, str]) -> None:
    if not raw.strip():
        errors["url"] = "Please give the address (URL) of the blocked page."
        return
    try:
        clean.urls = [_checked_url(raw)]
    except InvalidURL as exc:
        errors["url"] = f"This is not a web address we can read: {exc.message}."


def _url_lines(raw: str, clean: _Clean, errors: dict[str, str]) -> None:
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if not lines:
        errors["urls"] = "Please give at least one address (URL), one per line."
        return
    unique = list(dict.fromkeys(lines))
    if len(unique) > MAX_URLS:
        errors["urls"] = f"At most {MAX_URLS} addresses; you gave {len(unique)}."
        return
    checked: list[str] = []
    for number, line in enumerate(unique, 1):
        try:
            checked.append(_checked_url(line))
        except InvalidURL as exc:
            errors["urls"] = f"Line {number} is not a web address we can read: {exc.message}."
            return
    clean.urls = checked


def _notice(session: Session, raw: str, errors: dict[str, str]) -> Notice | None:
    reference = raw.strip().upper()
    if not reference:
        errors["notice_reference"] = "Please give the reference of the notice (N-XXXXX-XXXXX)."
        return None
    if len(reference) > MAX_NOTICE_REFERENCE or not _NOTICE_REFERENCE.match(reference):
        errors["notice_reference"] = "This does not look like a notice reference (N-XXXXX-XXXXX)."
        return None
    # References carry 50 random bits and the form is rate limited: saying that one is unknown
    # helps somebody who mistyped it and cannot be used to find other people's notices.
    notice = session.scalars(select(Notice).where(Notice.reference == reference)).one_or_none()
    if notice is None:
        errors["notice_reference"] = "We have no notice with this reference."
    return notice


def _contact(raw: str, errors: dict[str, str]) -> str:
    text = raw.strip()
    if not text:
        errors["contact"] = "Please give an e-mail address: we tell you the outcome there."
    elif len(text) > MAX_CONTACT or not text.isascii() or not _EMAIL.match(text):
        errors["contact"] = "This is not an e-mail address."
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}" if local else text


def _reasons(raw: str, errors: dict[str, str]) -> str:
    # Kept as typed (newlines too); control characters go, they are never meant.
    text = _CONTROL.sub("", raw).strip()
    if not text:
        errors["reasons"] = "Please tell us why the listing is wrong."
    elif len(text) > MAX_REASONS:
        errors["reasons"] = f"At most {MAX_REASONS} characters; you wrote {len(text)}."
    return text


# -- staff -------------------------------------------------------------------------------------


def get_appeal(session: Session, reference: str, *, lock: bool = False) -> Appeal:
    query = select(Appeal).where(Appeal.reference == reference.strip().upper())
    if lock:
        # Two supervisors deciding at once: the second waits, then sees the first's decision.
        query = query.with_for_update()
    appeal = session.scalars(query).one_or_none()
    if appeal is None:
        raise NotFound(f"no appeal {reference}")
    return appeal


def list_appeals(
    session: Session, *, status: AppealStatus | None = None, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Appeal], int]:
    """Appeals oldest first (the queue is worked in the order people wrote), and the total."""
    query = select(Appeal)
    if status is not None:
        query = query.where(Appeal.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Appeal.created_at, Appeal.id).limit(limit).offset(offset)
    ).all()
    return rows, total


def appeal_entries(session: Session, appeal: Appeal) -> list[UrlEntry]:
    """The entries the appeal was filed about, in the order stored (withdrawn ones too)."""
    ids = [uuid.UUID(i) for i in appeal.entry_ids]
    if not ids:
        return []
    found = {e.id: e for e in session.scalars(select(UrlEntry).where(UrlEntry.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _case_ids(session: Session, appeal: Appeal, listed: Iterable[UrlEntry]) -> set[uuid.UUID]:
    ids = {e.case_id for e in listed if e.case_id is not None}
    if appeal.notice_reference:
        case_id = session.scalar(
            select(Notice.case_id).where(Notice.reference == appeal.notice_reference)
        )
        if case_id is not None:
            ids.add(case_id)
    return ids


def decision_makers(session: Session, appeal: Appeal) -> dict[str, str]:
    """Who made the decision appealed against, each with what they did.

    The entries' ``added_by`` and ``approved_by``, and whoever confirmed the cases behind
    them (the notice's case included): a ``state_changed`` event to ``confirmed`` records its
    actor's label, which is the username, as ``Principal.label`` is for the deciding user.
    """
    listed = appeal_entries(session, appeal)
    makers: dict[str, str] = {}
    for entry in listed:
        makers.setdefault(entry.added_by, f"added {entry.expression} to the list")
        if entry.approved_by:
            makers.setdefault(entry.approved_by, f"approved {entry.expression}")
    case_ids = _case_ids(session, appeal, listed)
    if case_ids:
        events = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id.in_(case_ids), CaseEvent.kind == "state_changed"
            )
        )
        for event in events:
            if event.data.get("to") == CaseState.CONFIRMED.value:
                makers.setdefault(event.actor, f"confirmed case {event.case_id}")
    return makers


def _check_four_eyes(session: Session, appeal: Appeal, actor: Principal) -> None:
    what = decision_makers(session, appeal).get(actor.label)
    if what is not None:
        raise Forbidden(
            f"four eyes: you {what}, so you made the decision this appeal is against; "
            "another supervisor must review it"
        )


def _case_event(
    session: Session,
    listed: Sequence[UrlEntry],
    kind: str,
    message: str,
    actor: Principal,
    now: datetime,
    appeal: Appeal,
) -> None:
    """One line on the timeline of each case whose entries the appeal changed."""
    for case_id in sorted({e.case_id for e in listed if e.case_id is not None}):
        expressions = ", ".join(e.expression for e in listed if e.case_id == case_id)
        cases.add_event(
            session,
            cases.get_case(session, case_id),
            kind,
            f"Appeal {appeal.reference}: {message}: {expressions}",
            actor=actor.label,
            at=now,
            data={"appeal": appeal.reference},
        )


def delist(
    session: Session, reference: str, *, actor: Principal, now: datetime, note: str | None = None
) -> Appeal:
    """Suspend the appeal's active entries while it is reviewed (``reinstate`` or withdraw
    when it is decided). Entries that are pending, already suspended or withdrawn stay so."""
    appeal = get_appeal(session, reference, lock=True)
    if appeal.status is not AppealStatus.OPEN:
        raise Conflict(f"appeal {appeal.reference} is {appeal.status.value}, not open")
    _check_four_eyes(session, appeal, actor)
    reason = f"appeal {appeal.reference} under review"
    suspended = [
        entries.suspend(session, e, actor=actor, now=now, reason=reason)
        for e in appeal_entries(session, appeal)
        if e.status is EntryStatus.ACTIVE
    ]
    appeal.status = AppealStatus.DELISTED
    _case_event(
        session, suspended, "appeal_delisted", "suspended while under review", actor, now, appeal
    )
    audit.record(
        session,
        actor,
        "appeal.delist",
        "appeal",
        appeal.id,
        at=now,
        details={"reference": appeal.reference, "suspended": [str(e.id) for e in suspended]},
        note=note,
    )
    return appeal


def decide(
    session: Session,
    reference: str,
    outcome: str,
    *,
    actor: Principal,
    now: datetime,
    note: str,
) -> Appeal:
    """Uphold (withdraw the entries for good) or reject (put suspended entries back) an
    appeal, record who decided, and queue the e-mail to the appellant."""
    status = OUTCOMES.get(outcome)
    if status is None:
        raise ValidationFailed(f"outcome must be one of {sorted(OUTCOMES)}")
    text = note.strip()
    if not text or len(text) > MAX_NOTE:
        raise ValidationFailed(f"note: a reason of 1 to {MAX_NOTE} characters is required")
    appeal = get_appeal(session, reference, lock=True)
    if appeal.status not in DECIDABLE:
        raise Conflict(
            f"appeal {appeal.reference} was already decided ({appeal.status.value}) "
            f"by {appeal.decided_by}"
        )
    _check_four_eyes(session, appeal, actor)
    listed = appeal_entries(session, appeal)
    if status is AppealStatus.UPHELD:
        changed = [
            entries.withdraw(session, e, actor=actor, now=now, reason=UPHELD_REASON)
            for e in listed
            if e.status in entries.LIVE
        ]
        _case_event(
            session, changed, "appeal_upheld", "withdrawn from the URL list", actor, now, appeal
        )
    else:
        held = _held_by_other_appeals(session, appeal)
        reason = f"appeal {appeal.reference} rejected"
        changed = [
            entries.reinstate(session, e, actor=actor, now=now, reason=reason)
            for e in listed
            if e.status is EntryStatus.SUSPENDED and str(e.id) not in held
        ]
        _case_event(session, changed, "appeal_rejected", "back on the URL list", actor, now, appeal)
    appeal.status = status
    appeal.decided_by = actor.label
    appeal.decided_at = now
    appeal.decision_note = text
    audit.record(
        session,
        actor,
        "appeal.decide",
        "appeal",
        appeal.id,
        at=now,
        details={
            "reference": appeal.reference,
            "outcome": outcome,
            "entries": [str(e.id) for e in changed],
        },
        note=text,
    )
    # One telling per appeal, whatever happens to the request that decided it.
    jobs.enqueue(
        session,
        TELL_JOB,
        {"appeal_id": str(appeal.id)},
        run_at=now,
        dedup_key=f"{TELL_JOB}:{appeal.id}",
    )
    return appeal


def _held_by_other_appeals(session: Session, appeal: Appeal) -> set[str]:
    """Entries another appeal still holds suspended: rejecting this one must not put them
    back while that review goes on."""
    others = session.scalars(
        select(Appeal.entry_ids).where(
            Appeal.status == AppealStatus.DELISTED, Appeal.id != appeal.id
        )
    )
    return {entry_id for ids in others for entry_id in ids}


# -- telling the appellant ---------------------------------------------------------------------

_OUTCOME_TEXT: Final = {
    AppealStatus.UPHELD: (
        "upheld",
        "We agree with you. The addresses your appeal is about have been taken off our list.\n"
        "Network providers that use the list stop blocking them when they next update\n"
        "their copy of it.",
    ),
    AppealStatus.REJECTED: (
        "rejected",
        "We have reviewed the addresses your appeal is about again, and they stay on our\nlist.",
    ),
}


def tell_message(
    session: Session, appeal_id: uuid.UUID, settings: Settings, *, now: datetime
) -> EmailMessage | None:
    """The plain-text e-mail telling the appellant the outcome; None when there is nothing
    to tell (already told, or not decided).

    It carries the reference and the outcome only: the decision note is written for staff
    and may name cases or people, and the URLs are not repeated in e-mail.
    """
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or appeal.told_at is not None or appeal.status not in _OUTCOME_TEXT:
        return None
    word, explanation = _OUTCOME_TEXT[appeal.status]
    msg = EmailMessage()
    msg["From"] = Address(
        display_name=oneline(settings.hotline_name), addr_spec=settings.hotline_email
    )
    msg["To"] = appeal.contact
    msg["Subject"] = oneline(f"Your appeal {appeal.reference}: {word}")
    msg["Date"] = format_datetime(now)
    # Stable across attempts: a repeat after a lost "250" is recognisable as the same message.
    msg["Message-ID"] = make_message_id(f"appeal-{appeal.id}", settings.hotline_domain)
    msg[REFERENCE_HEADER] = appeal.reference
    msg["Auto-Submitted"] = "auto-generated"
    body = (
        f"Hello,\n\n"
        f"We have decided on your appeal {appeal.reference}, which we received on "
        f"{appeal.created_at:%Y-%m-%d}.\n\n"
        f"Outcome: {word}.\n\n"
        f"{explanation}\n\n"
        f"If you write to us about it, please quote {appeal.reference}.\n\n"
        f"{oneline(settings.hotline_name)}\n"
    )
    msg.set_content(body, subtype="plain", charset="utf-8")
    return msg


def record_told(
    session: Session,
    appeal_id: uuid.UUID,
    *,
    accepted: bool,
    detail: str,
    now: datetime,
) -> None:
    """Record the telling: ``told_at`` when the mail server took it, else the refusal in the
    audit log (told_at stays empty, so staff can see the appellant was not told)."""
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or appeal.told_at is not None:
        return
    if accepted:
        appeal.told_at = now
    # The mail server's answer names the recipient; the audit log keeps no personal data.
    detail = detail.replace(appeal.contact, "<appellant>")
    audit.record(
        session,
        SYSTEM,
        "appeal.tell" if accepted else "appeal.tell_failed",
        "appeal",
        appeal.id,
        at=now,
        details={"reference": appeal.reference, "detail": detail},
    )
