"""Helpers for the assessment tests: cases made as capture leaves them, the two ways of
assessing them (the console's form and the JSON API), and a case's trail for comparing them.

Cases are made through intake and given items hashed from benign sample photos, as in the
console's tests (nothing is fetched).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.assessment.models import Approval
from takedown.audit.models import AuditRecord
from takedown.cases.models import Case, CaseEvent, CaseItem
from takedown.db.session import Database
from takedown.jobs.models import Job
from takedown.lists.models import UrlEntry
from takedown.matching.models import BankEntry
from takedown.web.deps import CSRF_HEADER

SIGNALS = ("md5", "sha1", "sha256", "pdq")


def console_assess(client: TestClient, case_id: uuid.UUID, csrf: str, form: dict[str, str]) -> Any:
    """The console's assessment form, posted as the browser posts it (without HTMX)."""
    return client.post(
        f"/console/cases/{case_id}/assess",
        data={"csrf_token": csrf, **form},
        follow_redirects=False,
    )


def api_assess(client: TestClient, case_id: uuid.UUID, csrf: str, **body: Any) -> Any:
    """``POST /api/v1/cases/{id}/assessment`` with the staff session on ``client``."""
    return client.post(
        f"/api/v1/cases/{case_id}/assessment", json=body, headers={CSRF_HEADER: csrf}
    )


def api_decide(
    client: TestClient, csrf: str, approval_id: uuid.UUID | str, verb: str, note: str = ""
) -> Any:
    return client.post(
        f"/api/v1/approvals/{approval_id}/{verb}", json={"note": note}, headers={CSRF_HEADER: csrf}
    )


def as_form(body: dict[str, Any]) -> dict[str, str]:
    """The console form's fields for an API body (the classification's schemes are fields of
    their own there, and a bank is a checkbox and a choice)."""
    form = {k: str(v) for k, v in body.items() if k not in ("classification", "bank", "list_host")}
    form |= body.get("classification", {})
    if body.get("bank"):
        form |= {"add_to_bank": "1", "bank": body["bank"]}
    if body.get("list_host"):
        form["list_host"] = "1"
    return form


def first_item(database: Database, case_id: uuid.UUID) -> str:
    with database.sessions() as session:
        query = select(CaseItem.id).where(CaseItem.case_id == case_id).order_by(CaseItem.url)
        return str(session.scalars(query).first())


def audit_position(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.max(AuditRecord.seq))) or 0


def event_ids(database: Database, case_id: uuid.UUID) -> set[uuid.UUID]:
    with database.sessions() as session:
        return set(session.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case_id)))


@dataclass(frozen=True)
class Trail:
    """What an assessment left behind on one case, with every id of the case's own (the
    case, its URL, items, hashes, bank entries, approvals) replaced by a name, so that two
    cases assessed alike compare equal."""

    case: dict[str, Any]
    items: list[dict[str, Any]]
    events: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    trace_jobs: int


def trail(
    database: Database,
    case_id: uuid.UUID,
    *,
    events_before: set[uuid.UUID],
    audit_after: int,
    audit_upto: int,
) -> Trail:
    """The trail since ``events_before`` (the case's events then) and audit record
    ``audit_after``. Events are sorted by content: those written in one transaction share
    their time (the clock is frozen), and nothing else orders them."""
    with database.sessions() as session:
        case = session.get_one(Case, case_id)
        items = list(
            session.scalars(
                select(CaseItem).where(CaseItem.case_id == case_id).order_by(CaseItem.url)
            )
        )
        names: dict[str, str] = {str(case.id): "CASE", case.url: "URL", case.host: "HOST"}
        names |= {case.canonical_url: "URL"}
        for n, item in enumerate(items):
            names[str(item.id)] = f"ITEM{n}"
            for signal in SIGNALS:
                value = getattr(item, signal)
                if value is not None:
                    names[value] = f"ITEM{n}.{signal}"
        # Bank entries have integer ids: named where they are an audit record's object only.
        entries = session.scalars(select(BankEntry).where(BankEntry.source == f"case {case_id}"))
        entry_names = {str(e.id): f"ENTRY[{names.get(e.value, e.value)}]" for e in entries}
        listed = session.scalars(select(UrlEntry).where(UrlEntry.case_id == case_id))
        names |= {
            str(e.id): f"URL_ENTRY[{e.expression.replace(case.host, 'HOST')}]" for e in listed
        }
        approvals = list(
            session.scalars(
                select(Approval).where(Approval.case_id == case_id).order_by(Approval.requested_at)
            )
        )
        names |= {str(a.id): f"APPROVAL{n}" for n, a in enumerate(approvals)}
        events = [
            e
            for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id))
            if e.id not in events_before
        ]
        records = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.seq > audit_after, AuditRecord.seq <= audit_upto)
            .order_by(AuditRecord.seq)
        )
        jobs = session.scalars(select(Job).where(Job.name == "cases.trace"))

        def named(value: Any) -> Any:
            # Longest first, so a URL is named before the host inside it.
            text = json.dumps(value, sort_keys=True, default=str)
            for raw in sorted(names, key=len, reverse=True):
                text = text.replace(raw, names[raw])
            return json.loads(text)

        return Trail(
            case=named(
                {"state": case.state, "priority": case.priority, "closed_at": case.closed_at}
            ),
            items=named(
                [
                    {"verdict": i.verdict, "classification": i.classification, "auto": i.automatic}
                    for i in items
                ]
            ),
            events=sorted(
                named(
                    [
                        {
                            "at": e.at,
                            "kind": e.kind,
                            "actor": e.actor,
                            "message": e.message,
                            "data": e.data,
                        }
                        for e in events
                    ]
                ),
                key=lambda e: json.dumps(e, sort_keys=True),
            ),
            audit=named(
                [
                    {
                        "actor": [r.actor_type, r.actor_id, r.actor_label],
                        "action": r.action,
                        "object": [r.object_type, entry_names.get(r.object_id or "", r.object_id)],
                        "details": r.details,
                        "note": r.note,
                    }
                    for r in records
                ]
            ),
            approvals=named(
                [
                    {
                        "action": a.action,
                        "subject": a.subject,
                        "payload": a.payload,
                        "reason": a.reason,
                        "status": a.status,
                        "requested_by": a.requested_by,
                        "decided_by": a.decided_by,
                        "decision_note": a.decision_note,
                    }
                    for a in approvals
                ]
            ),
            trace_jobs=sum(1 for j in jobs if j.payload.get("case_id") == str(case_id)),
        )
