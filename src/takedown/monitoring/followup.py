"""After a re-check finds the content still live: re-notice, then escalate along the trace.

Each organization noticed about a case is a *thread*: its first notice (or forward, or
escalation) and the re-notices that follow it. A thread whose last notice went out
``renotice_after`` ago without an answer that settles it gets a re-notice; after
``max_renotices`` re-notices it escalates: the next organization up the trace that has not
been written to yet gets its own notice (CDN, then the network's operator, then the
registrar, then the registry), and the case is flagged for a supervisor. A dispute stops the
thread: a supervisor decides. A police hold pauses all of this (the caller checks).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.config import Settings
from takedown.notices import service as notices
from takedown.notices.models import AnswerKind, Notice, NoticeKind, NoticeStatus
from takedown.orgs import service as orgs
from takedown.orgs.models import Organization
from takedown.tracing.service import latest_trace

_THREAD_KINDS = frozenset({NoticeKind.NOTICE, NoticeKind.ESCALATION, NoticeKind.FORWARD})


@dataclass(frozen=True)
class Rung:
    """One organization up the trace that could act when the host does not."""

    role: str  # cdn, network, registrar, registry
    org: Organization | None
    name: str
    email: str | None


def _threads(all_notices: Sequence[Notice]) -> list[list[Notice]]:
    """Notices grouped by thread (a root and its re-notices), oldest first."""
    by_id = {n.id: n for n in all_notices}
    threads: dict[uuid.UUID, list[Notice]] = {}
    for notice in all_notices:
        root = notice
        while root.kind is NoticeKind.RENOTICE and root.previous_id in by_id:
            root = by_id[root.previous_id]
        threads.setdefault(root.id, []).append(notice)
    return [t for t in threads.values() if t[0].kind in _THREAD_KINDS]


def ladder(session: Session, case: Case) -> list[Rung]:
    """Who is above the host, from the latest trace, in the order escalation asks them."""
    trace = latest_trace(session, case.id)
    if trace is None:
        return []
    data = trace.data
    rungs: list[Rung] = []
    cdn = data.get("cdn") or {}
    if cdn:
        rungs.append(_rung(session, "cdn", cdn.get("org"), cdn.get("name")))
    for fact in data.get("addresses", []):
        asn = fact.get("asn")
        operator = orgs.org_for_asn(session, asn) if asn else None
        if operator is not None:
            rungs.append(Rung("network", operator, operator.name, operator.abuse_email))
    domain = data.get("domain") or {}
    if domain.get("registrar") or domain.get("registrar_abuse_email"):
        rung = _rung(session, "registrar", domain.get("registrar"), domain.get("registrar_name"))
        email = rung.email or domain.get("registrar_abuse_email")
        rungs.append(Rung(rung.role, rung.org, rung.name, email))
    if domain.get("registry"):
        rungs.append(_rung(session, "registry", domain.get("registry"), None))
    return rungs


def _rung(session: Session, role: str, ref: dict[str, str] | None, name: str | None) -> Rung:
    org = session.get(Organization, uuid.UUID(ref["id"])) if ref and ref.get("id") else None
    label = org.name if org else (ref or {}).get("name") or name or role
    email = org.abuse_email if org else (ref or {}).get("abuse_email")
    return Rung(role, org, label, email)


def _noticed(all_notices: Sequence[Notice]) -> set[str]:
    return {n.org_name for n in all_notices} | {str(n.org_id) for n in all_notices if n.org_id}


def follow_up(session: Session, case: Case, *, settings: Settings, now: datetime) -> list[Notice]:
    """Re-notice or escalate every thread that is due; returns the notices made."""
    all_notices = list(notices.case_notices(session, case.id))
    made: list[Notice] = []
    escalate = False
    for thread in _threads(all_notices):
        last = thread[-1]
        if last.status is not NoticeStatus.SENT or last.sent_at is None:
            continue  # still going out, or failed (already flagged)
        if any(n.answer is AnswerKind.DISPUTE for n in thread):
            continue
        cannot = last.answer is AnswerKind.CANNOT_ACT
        if not cannot and now - last.sent_at < settings.renotice_after:
            continue
        renotices = sum(n.kind is NoticeKind.RENOTICE for n in thread)
        if not cannot and renotices < settings.max_renotices:
            org = session.get(Organization, last.org_id) if last.org_id else None
            made.append(
                notices.create_notice(
                    session,
                    case,
                    kind=NoticeKind.RENOTICE,
                    org=org,
                    org_name=last.org_name,
                    country=last.country,
                    settings=settings,
                    now=now,
                    previous=last,
                    level=last.escalation_level,
                    fallback_email=last.recipient or None,
                )
            )
        elif not any(
            n.kind is NoticeKind.ESCALATION and n.created_at >= last.created_at for n in all_notices
        ):
            # The thread has had its re-notices (or the organization cannot act), and no
            # escalation followed it yet.
            escalate = True
    if escalate:
        made.extend(_escalate(session, case, all_notices, settings=settings, now=now))
    return made


def _escalate(
    session: Session,
    case: Case,
    all_notices: Sequence[Notice],
    *,
    settings: Settings,
    now: datetime,
) -> list[Notice]:
    noticed = _noticed(all_notices)
    level = max((n.escalation_level for n in all_notices), default=0) + 1
    for rung in ladder(session, case):
        if rung.name in noticed or (rung.org and str(rung.org.id) in noticed):
            continue
        notice = notices.create_notice(
            session,
            case,
            kind=NoticeKind.ESCALATION,
            org=rung.org,
            org_name=rung.name,
            country=rung.org.country if rung.org else None,
            settings=settings,
            now=now,
            level=level,
            fallback_email=rung.email,
        )
        _flag(session, case, f"escalated to the {rung.role} {rung.name} ({notice.reference})", now)
        return [notice]
    if case.escalated_at is None:
        _flag(session, case, "no one left to escalate to along the trace", now)
    return []


def _flag(session: Session, case: Case, message: str, now: datetime) -> None:
    first = case.escalated_at is None
    case.escalated_at = case.escalated_at or now
    cases.add_event(
        session,
        case,
        "escalated",
        message[:1].upper() + message[1:],
        actor="system",
        at=now,
        data={"supervisor": first},
    )
