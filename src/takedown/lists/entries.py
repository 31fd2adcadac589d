"""The URL list's working state: entries added, approved, suspended and withdrawn.

Entries are Safe Browsing expressions. A case's own URL is listed as its exact expression
(host, path and query), which blocks that page only. A whole host (``host/``) blocks the host
and every subdomain; it is listed only when an analyst marks the site as dedicated to the
material, and it stays ``pending`` until a second person approves it (four eyes): one mistaken
host entry can block a shared platform for everyone.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.config import Settings
from takedown.errors import Conflict, InvalidURL, NotFound, ValidationFailed
from takedown.lists.models import EntryScope, EntryStatus, UrlEntry
from takedown.lists.rows import Row
from takedown.monitoring.schedule import schedule_recheck
from takedown.urls.canonical import split_url
from takedown.urls.expressions import MAX_DIRECTORY_PREFIXES, expressions

LIVE = (EntryStatus.PENDING, EntryStatus.ACTIVE, EntryStatus.SUSPENDED)


class FourEyesError(Conflict):
    """The second person must not be the first."""


def live_key(expression: str) -> str:
    return hashlib.sha256(expression.encode("utf-8")).hexdigest()


def scope_of(expression: str) -> EntryScope:
    path = expression[expression.index("/") :]
    if path == "/":
        return EntryScope.HOST
    if path.endswith("/") and "?" not in path:
        return EntryScope.DIRECTORY
    return EntryScope.URL


def parse_expression(text: str) -> str:
    """The expression for an analyst's input: a URL (``https://host/dir/``) or an expression
    (``host/dir/``), canonicalized. Refuses what could never match: a directory deeper than
    Safe Browsing clients generate prefixes for."""
    raw = text.strip()
    if not raw:
        raise ValidationFailed("an expression or URL is required")
    try:
        parts = split_url(raw if "://" in raw else f"http://{raw}")
    except (InvalidURL, ValueError) as exc:
        raise ValidationFailed(f"not a URL or expression: {exc}", field="expression") from exc
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    expression = parts.host + path
    if scope_of(expression) is EntryScope.DIRECTORY:
        depth = len(parts.path.strip("/").split("/"))
        if depth > MAX_DIRECTORY_PREFIXES:
            raise ValidationFailed(
                f"a directory {depth} levels deep never matches (clients stop at "
                f"{MAX_DIRECTORY_PREFIXES}); list the exact pages instead"
            )
    return expression


def case_expression(case: Case) -> str:
    """The exact expression of a case's URL (its first, most specific, expression)."""
    return expressions(case.canonical_url)[0]


def live_entry(session: Session, expression: str) -> UrlEntry | None:
    return session.scalars(
        select(UrlEntry).where(UrlEntry.live_key == live_key(expression))
    ).one_or_none()


def get_entry(session: Session, entry_id: uuid.UUID) -> UrlEntry:
    entry = session.get(UrlEntry, entry_id)
    if entry is None:
        raise NotFound(f"no list entry {entry_id}")
    return entry


def add_entry(
    session: Session,
    expression: str,
    *,
    actor: Principal,
    reason: str,
    now: datetime,
    case: Case | None = None,
    settings: Settings | None = None,
) -> UrlEntry:
    """List ``expression`` (already canonical); returns the live entry if there is one.

    A whole host waits for a second person; everything else is active at once. A listed
    case is re-checked at least every ``list_recheck_interval`` (given ``settings``).
    """
    existing = live_entry(session, expression)
    if existing is not None:
        return existing
    scope = scope_of(expression)
    entry = UrlEntry(
        expression=expression,
        live_key=live_key(expression),
        host=expression[: expression.index("/")],
        scope=scope,
        status=EntryStatus.PENDING if scope is EntryScope.HOST else EntryStatus.ACTIVE,
        case_id=case.id if case else None,
        reason=reason,
        added_by=actor.label,
        added_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        "list.add",
        "url_entry",
        entry.id,
        at=now,
        details={"expression": expression},
    )
    if case is not None:
        waiting = " (waits for a second person)" if entry.status is EntryStatus.PENDING else ""
        cases.add_event(
            session,
            case,
            "listed",
            f"{expression} added to the URL list{waiting}",
            actor=actor.label,
            at=now,
            data={"entry_id": str(entry.id), "scope": scope.value},
        )
        if settings is not None:
            schedule_recheck(session, case.id, now + settings.list_recheck_interval)
    return entry


def list_case(
    session: Session,
    case: Case,
    *,
    actor: Principal,
    reason: str,
    now: datetime,
    settings: Settings | None = None,
) -> UrlEntry | None:
    """List a case's own URL, as routing and monitoring do without a person deciding.

    Nothing is listed when the URL's expression would block a whole host (a case reported at
    ``http://host/``): that is a person's decision with four eyes (``add_by_hand``). Nor when
    the case had this expression listed before and it was withdrawn (an appeal upheld, staff
    took it off): only a person lists it again.
    """
    expression = case_expression(case)
    if scope_of(expression) is EntryScope.HOST:
        return None
    for entry in case_entries(session, case.id, live=False):
        if entry.expression == expression:
            return entry if entry.status is not EntryStatus.WITHDRAWN else None
    return add_entry(
        session, expression, actor=actor, reason=reason, now=now, case=case, settings=settings
    )


def approve(session: Session, entry: UrlEntry, *, actor: Principal, now: datetime) -> UrlEntry:
    """The second person approves a pending whole-host entry."""
    if entry.status is not EntryStatus.PENDING:
        raise Conflict(f"the entry is {entry.status.value}, not pending")
    if actor.label == entry.added_by:
        raise FourEyesError("a whole host needs a second person: you proposed this entry")
    entry.status = EntryStatus.ACTIVE
    entry.approved_by = actor.label
    entry.approved_at = now
    audit.record(session, actor, "list.approve", "url_entry", entry.id, at=now, details={})
    return entry


def withdraw(
    session: Session, entry: UrlEntry, *, actor: Principal, now: datetime, reason: str
) -> UrlEntry:
    """Take the entry off the list for good (it stays as history)."""
    if entry.status is EntryStatus.WITHDRAWN:
        return entry
    entry.status = EntryStatus.WITHDRAWN
    entry.live_key = None
    entry.withdrawn_by = actor.label
    entry.withdrawn_at = now
    entry.withdrawn_reason = reason
    audit.record(
        session, actor, "list.withdraw", "url_entry", entry.id, at=now, details={"reason": reason}
    )
    return entry


def suspend(
    session: Session, entry: UrlEntry, *, actor: Principal, now: datetime, reason: str
) -> UrlEntry:
    """De-list for now (while an appeal is reviewed); ``reinstate`` undoes it."""
    if entry.status is not EntryStatus.ACTIVE:
        raise Conflict(f"only an active entry can be suspended, not a {entry.status} one")
    entry.status = EntryStatus.SUSPENDED
    audit.record(
        session, actor, "list.suspend", "url_entry", entry.id, at=now, details={"reason": reason}
    )
    return entry


def reinstate(
    session: Session, entry: UrlEntry, *, actor: Principal, now: datetime, reason: str
) -> UrlEntry:
    if entry.status is not EntryStatus.SUSPENDED:
        raise Conflict(f"only a suspended entry can be reinstated, not a {entry.status} one")
    entry.status = EntryStatus.ACTIVE
    audit.record(
        session, actor, "list.reinstate", "url_entry", entry.id, at=now, details={"reason": reason}
    )
    return entry


def case_entries(session: Session, case_id: uuid.UUID, *, live: bool = True) -> list[UrlEntry]:
    query = select(UrlEntry).where(UrlEntry.case_id == case_id)
    if live:
        query = query.where(UrlEntry.status.in_(LIVE))
    return list(session.scalars(query.order_by(UrlEntry.added_at)))


def withdraw_for_case(
    session: Session, case: Case, *, actor: Principal, now: datetime, reason: str
) -> list[UrlEntry]:
    """Withdraw every live entry of the case (its content is gone)."""
    entries = case_entries(session, case.id)
    for entry in entries:
        withdraw(session, entry, actor=actor, now=now, reason=reason)
    if entries:
        cases.add_event(
            session,
            case,
            "delisted",
            f"Withdrawn from the URL list: {', '.join(e.expression for e in entries)} ({reason})",
            actor=actor.label,
            at=now,
            data={"entry_ids": [str(e.id) for e in entries]},
        )
    return entries


def entries_for_url(session: Session, url: str) -> list[UrlEntry]:
    """The live entries that make ``url`` listed (any of its expressions)."""
    try:
        keys = [live_key(e) for e in expressions(url)]
    except (InvalidURL, ValueError):
        return []
    return list(session.scalars(select(UrlEntry).where(UrlEntry.live_key.in_(keys))))


def search(
    session: Session,
    *,
    status: EntryStatus | None = None,
    host: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[UrlEntry]:
    query = select(UrlEntry)
    if status is not None:
        query = query.where(UrlEntry.status == status)
    if host:
        query = query.where(UrlEntry.host == host.lower())
    return session.scalars(
        query.order_by(UrlEntry.added_at.desc(), UrlEntry.id).limit(limit).offset(offset)
    ).all()


def active_rows(session: Session) -> list[Row]:
    """What the next version of the URL list publishes: every active entry."""
    result = session.execute(
        select(UrlEntry.expression, UrlEntry.case_id, UrlEntry.added_at).where(
            UrlEntry.status == EntryStatus.ACTIVE
        )
    )
    return [
        (expression, str(case_id) if case_id else "", added_at.isoformat(timespec="seconds"))
        for expression, case_id, added_at in result
    ]


def add_by_hand(
    session: Session,
    text: str,
    *,
    reason: str,
    dedicated_site: bool,
    case_id: uuid.UUID | None,
    actor: Principal,
    now: datetime,
    settings: Settings,
) -> UrlEntry:
    """An analyst lists a URL, a directory or (for a dedicated site, with four eyes) a host."""
    expression = parse_expression(text)
    if scope_of(expression) is EntryScope.HOST and not dedicated_site:
        raise ValidationFailed(
            f"{expression} would block the whole host and its subdomains: only for a site "
            "dedicated to the material (say dedicated_site), and a second person must approve",
            field="expression",
        )
    case = cases.get_case(session, case_id) if case_id is not None else None
    existing = live_entry(session, expression)
    if existing is not None:
        raise Conflict(f"{expression} is on the list already ({existing.status.value})")
    return add_entry(
        session, expression, actor=actor, reason=reason, now=now, case=case, settings=settings
    )
