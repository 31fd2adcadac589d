"""A seeded month of cases with known timings, written straight as rows so that every time is
exact; the tests compute each figure from this description on their own and compare.

Every case's host is a made-up name; no content exists behind any of it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState, ItemVerdict, Priority
from takedown.intake.models import ContentKind, Report, ReporterSource, SiteKind
from takedown.notices.models import Notice, NoticeChannel, NoticeKind, NoticeStatus
from takedown.orgs.models import Organization, OrgKind
from takedown.tracing.models import Trace, TraceStatus
from tests import factories

H = timedelta(hours=1)
NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Spec:
    name: str
    reported: datetime
    source: ReporterSource
    host: str  # the hosting provider's name
    country: str
    verdict: str | None = None  # confirmed or not_illegal
    decided: timedelta | None = None
    by_system: bool = False
    noticed: timedelta | None = None
    removed: timedelta | None = None
    renotice: timedelta | None = None
    escalation: timedelta | None = None
    classification: str | None = None
    duplicates: list[tuple[timedelta, ReporterSource]] = field(default_factory=list)


SPECS = [
    Spec("a", NOVEMBER + timedelta(days=1, hours=10), ReporterSource.PUBLIC, "Host A", "DE",
         "confirmed", 2 * H, noticed=3 * H, removed=10 * H, classification="A1",
         duplicates=[(20 * H, ReporterSource.TRUSTED_FLAGGER)]),
    Spec("b", NOVEMBER + timedelta(days=4), ReporterSource.POLICE, "Host A", "DE",
         "confirmed", 1 * H, by_system=True, noticed=2 * H, removed=50 * H, renotice=30 * H),
    # Removed only after the month ended: still up at the end of November.
    Spec("c", NOVEMBER + timedelta(days=9), ReporterSource.PUBLIC, "Host B", "NL",
         "confirmed", 5 * H, noticed=6 * H, removed=timedelta(days=25), escalation=80 * H),
    Spec("d", NOVEMBER + timedelta(days=11), ReporterSource.PUBLIC, "Host B", "NL",
         "not_illegal", 4 * H),
    Spec("e", NOVEMBER + timedelta(days=27), ReporterSource.PUBLIC, "Host B", "NL"),
    # Reported and decided in October, removed on the 1st of November: not in the cohort.
    Spec("f", NOVEMBER - timedelta(days=12), ReporterSource.PUBLIC, "Host A", "DE",
         "confirmed", 3 * H, noticed=4 * H, removed=timedelta(days=12, hours=1)),
]  # fmt: skip


def seed(session: Session, orgs: dict[str, Organization] | None = None) -> dict[str, Case]:
    """Write ``SPECS``; the hosting organizations are made unless given."""
    orgs = dict(orgs or {})
    for name in {s.host for s in SPECS} - set(orgs):
        orgs[name] = factories.org(session, name, OrgKind.HOSTING_PROVIDER, "DE")
    cases: dict[str, Case] = {}
    for number, spec in enumerate(SPECS):
        cases[spec.name] = _case(session, number, spec, orgs[spec.host])
    session.flush()
    return cases


def _case(session: Session, number: int, spec: Spec, host: Organization) -> Case:
    url = f"http://{spec.name}.example.test/page"
    at = spec.reported
    state = CaseState.AWAITING_ASSESSMENT if spec.verdict is None else CaseState(spec.verdict)
    if spec.removed is not None:
        state = CaseState.CLOSED
    case = Case(
        url_sha256=hashlib.sha256(url.encode()).hexdigest(),
        canonical_url=url,
        url=url,
        host=f"{spec.name}.example.test",
        state=state,
        priority=Priority.PUBLIC,
        first_reported_at=at,
        last_reported_at=at,
        due_at=at + 24 * H,
        report_count=1 + len(spec.duplicates),
        first_notice_at=at + spec.noticed if spec.noticed else None,
        removed_at=at + spec.removed if spec.removed else None,
    )
    session.add(case)
    session.flush()
    reports = [(timedelta(0), spec.source), *spec.duplicates]
    for index, (after, source) in enumerate(reports):
        session.add(
            Report(
                reference=f"R{number}{index}{uuid.uuid4().hex[:8]}",
                case_id=case.id,
                received_at=at + after,
                submitted_url=url,
                source=source,
                content_kind=ContentKind.IMAGE,
                site_kind=SiteKind.WEBSITE,
                immediate_danger=False,
            )
        )
    if spec.verdict is not None and spec.decided is not None:
        session.add(
            CaseEvent(
                case_id=case.id,
                at=at + spec.decided,
                kind="state_changed",
                actor="system" if spec.by_system else "user ana",
                message="decided",
                data={"from": "awaiting_assessment", "to": spec.verdict},
            )
        )
    session.add(
        Trace(
            case_id=case.id,
            host=case.host,
            status=TraceStatus.COMPLETE,
            traced_at=at,
            countries=spec.country,
            data={},
            evidence=[],
        )
    )
    session.add(
        CaseItem(
            case_id=case.id,
            url=url + ".png",
            content_type="image/png",
            size=10,
            md5="0" * 32,
            sha1="0" * 40,
            sha256=hashlib.sha256(url.encode() + b"i").hexdigest(),
            verdict=ItemVerdict.CONFIRMED if spec.verdict == "confirmed" else ItemVerdict.UNKNOWN,
            classification=spec.classification,
            automatic=spec.by_system,
            match={},
            captured_at=at,
        )
    )
    for kind, after in (
        (NoticeKind.NOTICE, spec.noticed),
        (NoticeKind.RENOTICE, spec.renotice),
        (NoticeKind.ESCALATION, spec.escalation),
    ):
        if after is not None:
            session.add(_notice(case, host, kind, at + after))
    return case


def _notice(case: Case, host: Organization, kind: NoticeKind, sent: datetime) -> Notice:
    return Notice(
        reference=f"N{uuid.uuid4().hex[:12]}",
        case_id=case.id,
        org_id=host.id,
        org_name=host.name,
        kind=kind,
        channel=NoticeChannel.EMAIL,
        recipient="abuse@example.test",
        language="en",
        country="DE",
        status=NoticeStatus.SENT,
        created_at=sent,
        deadline_at=sent + 24 * H,
        sent_at=sent,
        message_id=f"<{uuid.uuid4()}@example.test>",
        document=[],
    )
