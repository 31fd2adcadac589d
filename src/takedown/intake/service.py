"""Intake: reports become cases, deduplicated by canonical URL.

A single report and a bulk of 10,000 take the same path, written with set-based inserts so a
bulk request costs a handful of statements rather than tens of thousands.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.audit import service as audit
from takedown.auth.principal import SYSTEM, Principal
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseState, Priority
from takedown.cases.states import OPEN_FOR_ASSESSMENT
from takedown.config import Settings
from takedown.errors import InvalidURL, ValidationFailed
from takedown.intake.models import Report, ReporterSource
from takedown.intake.schemas import ReportIn
from takedown.jobs import service as jobs
from takedown.lists import hopping
from takedown.urls import CanonicalURL
from takedown.urls.fetchable import accept_url

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_CHUNK = 500  # bound on the number of bound parameters in one IN (...)
# Core tables for set-based statements (the ORM's per-object work costs too much at 10,000).
_CASES = cast(Table, Case.__table__)
_REPORTS = cast(Table, Report.__table__)


def new_reference(prefix: str = "R") -> str:
    """A reference a person can read out on the phone: R-XXXXX-XXXXX, 50 random bits.

    Reports use ``R``, notices ``N``.
    """
    bits = int.from_bytes(secrets.token_bytes(7)) >> 6  # 50 bits, one call per reference
    chars = "".join(_REFERENCE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(10))
    return f"{prefix}-{chars[:5]}-{chars[5:]}"


def source_of(principal: Principal) -> ReporterSource:
    if principal.kind == "public":
        return ReporterSource.PUBLIC
    if principal.kind == "user":
        return ReporterSource.STAFF
    return {
        "police": ReporterSource.POLICE,
        "hotline": ReporterSource.HOTLINE,
    }.get(principal.org_kind or "", ReporterSource.TRUSTED_FLAGGER)


def priority_of(source: ReporterSource, immediate_danger: bool) -> Priority:
    if immediate_danger:
        return Priority.IMMEDIATE_DANGER
    if source == ReporterSource.POLICE:
        return Priority.POLICE
    if source == ReporterSource.PUBLIC:
        return Priority.PUBLIC
    return Priority.TRUSTED


@dataclass
class ItemResult:
    """What happened to one submitted item."""

    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    report_id: uuid.UUID | None = None
    reference: str | None = None
    case_id: uuid.UUID | None = None
    reason: str | None = None
    external_id: str | None = None


@dataclass
class _Accepted:
    index: int
    report: ReportIn
    url: CanonicalURL
    # The URL the capture job fetches: trimmed, with a scheme, checked by the fetcher's parser.
    fetch_url: str
    priority: Priority
    result: ItemResult = field(init=False)


def _validate(
    index: int, raw: ReportIn | dict[str, Any], source: ReporterSource
) -> _Accepted | ItemResult:
    try:
        report = raw if isinstance(raw, ReportIn) else ReportIn.model_validate(raw)
        # One definition for intake and the fetcher: a URL is accepted only if the capture job
        # can fetch it, so no accepted case is left with a capture that can never run.
        accepted = accept_url(report.url)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "item"
        external = raw.get("external_id") if isinstance(raw, dict) else None
        return ItemResult(
            index,
            "rejected",
            reason=f"{where}: {first['msg']}",
            external_id=external if isinstance(external, str) else None,
        )
    except InvalidURL as exc:
        return ItemResult(index, "rejected", reason=exc.message, external_id=report.external_id)
    priority = priority_of(source, report.immediate_danger)
    return _Accepted(index, report, accepted.canonical, accepted.fetch_url, priority)


def _insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValidationFailed(f"unsupported database {dialect}")  # pragma: no cover


def _new_case_row(group: list[_Accepted], settings: Settings, now: datetime) -> dict[str, Any]:
    url = group[0].url
    priority = min((a.priority for a in group), key=lambda p: p.rank)
    return {
        "id": uuid.uuid4(),
        "url_sha256": url.sha256,
        "canonical_url": url.url,
        "url": group[0].fetch_url,
        "host": url.host,
        "registered_domain": url.registered_domain,
        "state": CaseState.NEW,
        "priority": priority,
        "first_reported_at": now,
        "last_reported_at": now,
        "due_at": now + settings.deadline_for(priority.value),
        "report_count": len(group),
        "created_at": now,
        "updated_at": now,
    }


def _chunks(keys: Sequence[str]) -> list[Sequence[str]]:
    return [keys[i : i + _CHUNK] for i in range(0, len(keys), _CHUNK)]


def _find_cases(session: Session, keys: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    columns = (Case.url_sha256, Case.id, Case.state, Case.priority)
    for chunk in _chunks(keys):
        for row in session.execute(select(*columns).where(Case.url_sha256.in_(chunk))):
            found[row.url_sha256] = row
    return found


def _open_cases(
    session: Session, settings: Settings, groups: dict[str, list[_Accepted]], now: datetime
) -> tuple[dict[str, Any], dict[str, uuid.UUID]]:
    """Existing cases by key, and the cases this call created by key.

    Two requests may race to open the same case; ``ON CONFLICT DO NOTHING`` lets the loser
    fall back to the winner's row instead of failing.
    """
    existing = _find_cases(session, list(groups))
    rows = [_new_case_row(groups[k], settings, now) for k in groups if k not in existing]
    created: dict[str, uuid.UUID] = {}
    if rows:
        table = _CASES
        stmt = (
            _insert(session, table)
            .on_conflict_do_nothing(index_elements=["url_sha256"])
            .returning(table.c.url_sha256, table.c.id)
        )
        created = {r.url_sha256: r.id for r in session.execute(stmt, rows)}
        lost = [r["url_sha256"] for r in rows if r["url_sha256"] not in created]
        existing |= _find_cases(session, lost)
    return existing, created


def _touch_existing(
    session: Session,
    settings: Settings,
    existing: dict[str, Any],
    groups: dict[str, list[_Accepted]],
    now: datetime,
) -> None:
    """Count the new reports on cases that existed; raise priority or reopen where due."""
    if not existing:
        return
    table = _CASES
    session.execute(
        update(table)
        .where(table.c.id == bindparam("case_id"))
        .values(
            report_count=table.c.report_count + bindparam("added"),
            last_reported_at=now,
            updated_at=now,
        ),
        [{"case_id": row.id, "added": len(groups[key])} for key, row in existing.items()],
    )
    for key, row in existing.items():
        best = min((a.priority for a in groups[key]), key=lambda p: p.rank)
        reopen = row.state == CaseState.CLOSED
        raise_priority = row.state in OPEN_FOR_ASSESSMENT and best.rank < row.priority.rank
        if reopen or raise_priority:
            _escalate(session, settings, row.id, best, reopen=reopen, now=now)


def _escalate(
    session: Session,
    settings: Settings,
    case_id: uuid.UUID,
    priority: Priority,
    *,
    reopen: bool,
    now: datetime,
) -> None:
    case = session.get_one(Case, case_id)
    new_due = now + settings.deadline_for(priority.value)
    if reopen:
        cases.transition(
            session,
            case,
            CaseState.AWAITING_ASSESSMENT,
            SYSTEM,
            now=now,
            note="reported again after it was closed",
        )
        case.priority = priority
        case.due_at = new_due
        return
    message = f"Priority raised: {case.priority.label} → {priority.label}"
    cases.add_event(
        session,
        case,
        "priority_raised",
        message,
        actor="system",
        at=now,
        data={"from": case.priority.value, "to": priority.value},
    )
    case.priority = priority
    case.due_at = min(case.due_at, new_due)


def submit(
    session: Session,
    settings: Settings,
    principal: Principal,
    items: Sequence[ReportIn | dict[str, Any]],
    *,
    now: datetime,
) -> list[ItemResult]:
    """Store every valid report, attach it to its case (opening cases as needed), and say per
    item what happened. Invalid items are rejected with their reason and change nothing."""
    # Deadlines an administrator changed in the console apply to the cases opened from now on.
    settings = runtime.effective(session, settings)
    source = source_of(principal)
    results: list[ItemResult] = []
    groups: dict[str, list[_Accepted]] = {}
    for index, raw in enumerate(items):
        checked = _validate(index, raw, source)
        if isinstance(checked, ItemResult):
            results.append(checked)
            continue
        checked.result = ItemResult(
            index,
            "duplicate",
            report_id=uuid.uuid4(),
            reference=new_reference(),
            external_id=checked.report.external_id,
        )
        results.append(checked.result)
        groups.setdefault(checked.url.sha256, []).append(checked)
    if groups:
        existing, created = _open_cases(session, settings, groups, now)
        domains = {
            case_id: groups[key][0].url.registered_domain for key, case_id in created.items()
        }
        hopping.flag_new_cases(session, domains, now=now)
        _touch_existing(session, settings, existing, groups, now)
        _store_reports(session, principal, source, groups, existing, created, now)
        payloads = [{"case_id": str(case_id)} for case_id in created.values()]
        jobs.enqueue_many(session, "cases.capture", payloads, run_at=now)
    _audit(session, principal, results, now)
    return results


def _store_reports(
    session: Session,
    principal: Principal,
    source: ReporterSource,
    groups: dict[str, list[_Accepted]],
    existing: dict[str, Any],
    created: dict[str, uuid.UUID],
    now: datetime,
) -> None:
    reports: list[dict[str, Any]] = []
    for key, group in groups.items():
        case_id = created[key] if key in created else existing[key].id
        for position, item in enumerate(group):
            result = item.result
            result.case_id = case_id
            if key in created and position == 0:
                result.status = "accepted"
            report = item.report
            reports.append(
                {
                    "id": result.report_id,
                    "reference": result.reference,
                    "case_id": case_id,
                    "received_at": now,
                    "submitted_url": report.url,
                    "source": source,
                    "org_id": principal.org_id,
                    "api_key_id": principal.api_key_id,
                    "user_id": principal.user_id,
                    "content_kind": report.content_kind,
                    "site_kind": report.site_kind,
                    "immediate_danger": report.immediate_danger,
                    "description": report.description,
                    "external_id": report.external_id,
                }
            )
    session.execute(_REPORTS.insert(), reports)


def _audit(
    session: Session, principal: Principal, results: list[ItemResult], now: datetime
) -> None:
    stored = [r for r in results if r.status != "rejected"]
    if not stored:
        return
    if len(results) == 1:
        only = stored[0]
        audit.record(
            session,
            principal,
            "report.submit",
            "report",
            only.report_id,
            at=now,
            details={"case_id": str(only.case_id), "status": only.status},
        )
        return
    counts = {s: sum(1 for r in results if r.status == s) for s in ("accepted", "duplicate")}
    audit.record(
        session,
        principal,
        "report.submit_bulk",
        "report_batch",
        None,
        at=now,
        details={**counts, "rejected": len(results) - len(stored)},
    )


def submit_one(
    session: Session, settings: Settings, principal: Principal, report: ReportIn, *, now: datetime
) -> ItemResult:
    """One report; an invalid one is refused with its reason and nothing is stored."""
    result = submit(session, settings, principal, [report], now=now)[0]
    if result.status == "rejected":
        raise InvalidURL(result.reason)
    return result
