"""Domain alerts to a TLD's registry, sent by the ``lists.domain_alert`` job.

The registry and hosts are fictional (``*.test``, ``*.example``, RFC 5737 addresses); mail
goes to the sandbox's SMTP sink on loopback and the items are hashes of benign bytes only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases import service as cases
from takedown.cases.models import Case, CaseState, Priority
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import Job
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.lists import alerts
from takedown.monitoring.followup import follow_up
from takedown.notices import service as notices
from takedown.notices.channels import verify_signature
from takedown.notices.models import Notice, NoticeKind, NoticeStatus
from takedown.notices.xarf import validate_xarf
from takedown.orgs.models import Organization, OrgKind
from takedown.sandbox.smtp import SmtpSink
from takedown.urls import parse_url
from tests.factories import ACTOR, NOW
from tests.notices.support import (
    ITEM_SHA256,
    HookServer,
    events_of,
    known_item,
    mark_sent,
)
from tests.orgs.support import directory_org

REGISTRY = "Example Registry"
REGISTRY_EMAIL = "alerts@registry.example"
HOST_EMAIL = "abuse@hosting.example"
URL = "http://www.badsite.test/gallery/1.html"
SECRET = "a-webhook-secret-of-enough-length"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": sink.host,
            "smtp_port": sink.port,
            "smtp_timeout": 10.0,
            "hotline_name": "Example Hotline",
            "hotline_email": "hotline@hotline.example.com",
            "hotline_domain": "hotline.example.com",
        }
    )


def registry(session: Session, tlds: tuple[str, ...] = ("test",), **fields: Any) -> Organization:
    values: dict[str, Any] = {"abuse_email": REGISTRY_EMAIL, "tlds": list(tlds)} | fields
    return directory_org(session, REGISTRY, OrgKind.REGISTRY, **values)


def open_case(session: Session, url: str = URL, state: CaseState = CaseState.CONFIRMED) -> Case:
    """A case at ``url`` in ``state``, with one known item (hashes of benign bytes)."""
    parsed = parse_url(url)
    case = Case(
        url_sha256=parsed.sha256,
        canonical_url=parsed.url,
        url=url,
        host=parsed.host,
        registered_domain=parsed.registered_domain,
        state=state,
        priority=Priority.PUBLIC,
        first_reported_at=NOW,
        last_reported_at=NOW,
        due_at=NOW + timedelta(hours=24),
        report_count=1,
    )
    session.add(case)
    session.flush()
    known_item(session, url, case.id, "A1")
    return case


def notify_host(session: Session, settings: Settings, case: Case) -> Notice:
    """The host's first notice about ``case``, as if it had gone out at NOW."""
    host = directory_org(session, "Example Hosting", abuse_email=HOST_EMAIL)
    notice = notices.create_notice(
        session,
        case,
        kind=NoticeKind.NOTICE,
        org=host,
        org_name=host.name,
        country="NL",
        settings=settings,
        now=NOW,
    )
    mark_sent(notice)
    case.first_notice_at = NOW
    session.flush()
    return notice


def queue_alert(database: Database, case_id: uuid.UUID) -> None:
    with database.transaction() as session:
        jobs.enqueue(session, alerts.ALERT_JOB, {"case_id": str(case_id)}, run_at=NOW)


def drain(database: Database, settings: Settings, clock: FrozenClock | None = None) -> None:
    worker = Worker(
        database, settings, clock=clock or FrozenClock(NOW), registry=load_handlers(settings)
    )
    while worker.run_once():
        pass


def alerts_of(database: Database, case_id: uuid.UUID) -> list[Notice]:
    with database.sessions() as session:
        return [
            n for n in notices.case_notices(session, case_id) if n.kind is NoticeKind.DOMAIN_ALERT
        ]


def noticed_case(database: Database, settings: Settings, url: str = URL) -> uuid.UUID:
    """A confirmed case whose host has been notified; returns its id."""
    with database.transaction() as session:
        case = open_case(session, url)
        notify_host(session, settings, case)
        return case.id


# -- when the job is queued ------------------------------------------------------------------


def alert_jobs(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.name == alerts.ALERT_JOB)).all())


def test_confirming_a_case_queues_the_alert_job(db: Session) -> None:
    case = open_case(db, state=CaseState.AWAITING_ASSESSMENT)
    cases.assess(db, case.id, "confirmed", ACTOR, now=NOW)
    db.flush()

    [job] = alert_jobs(db)
    assert job.payload == {"case_id": str(case.id)}
    assert job.run_at == NOW


def test_confirming_a_case_on_an_ip_address_queues_no_alert(db: Session) -> None:
    case = open_case(db, "http://192.0.2.10/gallery/1.html", CaseState.AWAITING_ASSESSMENT)
    cases.assess(db, case.id, "confirmed", ACTOR, now=NOW)
    db.flush()

    assert alert_jobs(db) == []


# -- what is sent ----------------------------------------------------------------------------


def test_the_registry_is_alerted_once_by_email(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    with database.transaction() as session:
        registry(session)
    case_id = noticed_case(database, mail_settings)
    queue_alert(database, case_id)
    queue_alert(database, case_id)  # a duplicate job: still one alert
    drain(database, mail_settings)

    [message] = sink.wait_for(1)
    [alert] = alerts_of(database, case_id)
    assert alert.status is NoticeStatus.SENT
    assert alert.org_name == REGISTRY
    assert message.rcpt_tos == [REGISTRY_EMAIL]
    assert message.reference == alert.reference
    assert "Domain alert" in message.subject
    assert "badsite.test" in message.subject
    text = message.text or ""
    for expected in (URL, "badsite.test", str(case_id), alert.reference, ITEM_SHA256):
        assert expected in text
        assert expected in (message.html or "")
    assert "has been notified separately" in text
    assert "consider the domain" in text.lower()
    # A registry is not asked to remove a file; no image is ever attached.
    assert "Remove the content" not in text
    assert "LEGAL BASIS" not in text  # the DSA's hosting duties are not a registry's
    assert {part.get_content_type() for part in message.message.walk()} <= {
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/json",
    }
    [document] = message.xarf
    assert validate_xarf(document) == []
    assert document["url"] == URL
    assert "notice:domain_alert" in document["tags"]
    assert "badsite.test" in document["description"]

    # The job again, later (a re-confirmation, a retry): nothing more goes out.
    queue_alert(database, case_id)
    drain(database, mail_settings, FrozenClock(NOW + timedelta(hours=2)))
    assert len(sink.messages()) == 1
    assert len(alerts_of(database, case_id)) == 1


def test_a_registry_with_a_webhook_gets_a_signed_alert(
    database: Database, settings: Settings
) -> None:
    receiver = HookServer().start()
    try:
        where = f"127.0.0.1:{receiver.port}"
        hooked = settings.model_copy(update={"fetch_allow_hosts": [where]})
        with database.transaction() as session:
            registry(session, webhook_url=f"http://{where}/alerts", webhook_secret=SECRET)
        case_id = noticed_case(database, hooked)
        queue_alert(database, case_id)
        drain(database, hooked)
    finally:
        receiver.close()

    [received] = receiver.answers.received
    [alert] = alerts_of(database, case_id)
    assert alert.status is NoticeStatus.SENT
    assert verify_signature(
        SECRET, received.headers["Takedown-Signature"], received.body, datetime.now(UTC)
    )
    body = json.loads(received.body)
    assert (body["kind"], body["case"], body["reference"]) == (
        "domain_alert",
        str(case_id),
        alert.reference,
    )
    assert validate_xarf(body["xarf"][0]) == []


def test_the_alert_waits_until_the_host_has_been_notified(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    with database.transaction() as session:
        registry(session)
        case_id = open_case(session).id
    queue_alert(database, case_id)
    drain(database, mail_settings)
    assert alerts_of(database, case_id) == []
    with database.sessions() as session:
        waiting = [j for j in alert_jobs(session) if j.run_at > NOW]
        assert [j.run_at for j in waiting] == [NOW + alerts.WAIT_INTERVAL]

    with database.transaction() as session:
        notify_host(session, mail_settings, session.get_one(Case, case_id))
    drain(database, mail_settings, FrozenClock(NOW + alerts.WAIT_INTERVAL))

    [alert] = alerts_of(database, case_id)
    assert alert.status is NoticeStatus.SENT
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [[REGISTRY_EMAIL]]


def test_the_alert_goes_as_soon_as_the_hosts_notice_goes_not_an_hour_later(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    """With two workers the alert could look while the host's notice was being sent, see
    nothing yet and wait an hour; the notice going out now wakes it."""
    with database.transaction() as session:
        registry(session)
        case = open_case(session)
        case_id = case.id
        host = directory_org(session, "Example Hosting", abuse_email=HOST_EMAIL)
    queue_alert(database, case_id)
    drain(database, mail_settings)
    assert alerts_of(database, case_id) == [], "the host has not been notified yet"

    with database.transaction() as session:
        notices.create_notice(
            session,
            session.get_one(Case, case_id),
            kind=NoticeKind.NOTICE,
            org=session.get_one(Organization, host.id),
            org_name=host.name,
            country="NL",
            settings=mail_settings,
            now=NOW,
        )
    drain(database, mail_settings)  # the clock has not moved: no hour has passed

    [alert] = alerts_of(database, case_id)
    assert alert.status is NoticeStatus.SENT
    assert sorted(m.rcpt_tos[0] for m in sink.wait_for(2)) == sorted([REGISTRY_EMAIL, HOST_EMAIL])


def test_the_alert_gives_up_when_the_host_is_never_notified(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    with database.transaction() as session:
        registry(session)
        case_id = open_case(session).id
    clock = FrozenClock(NOW)
    queue_alert(database, case_id)
    drain(database, mail_settings, clock)
    while clock.now() < NOW + alerts.GIVE_UP_AFTER + alerts.WAIT_INTERVAL:
        clock.advance(alerts.WAIT_INTERVAL)
        drain(database, mail_settings, clock)

    assert alerts_of(database, case_id) == []
    with database.sessions() as session:
        [skipped] = events_of(session, case_id, "domain_alert_skipped")
        assert REGISTRY in skipped.message
        assert all(j.run_at <= clock.now() for j in alert_jobs(session))
    assert sink.messages() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://www.badsite.example/gallery/1.html",  # no registry runs .example
        "http://192.0.2.10/gallery/1.html",  # an IP address has no domain
        # Under a private suffix: the registry holds the platform's name, not the site's.
        "http://someone.github.io/gallery/1.html",
    ],
)
def test_no_alert_without_a_registry_for_the_domain(
    database: Database, mail_settings: Settings, sink: SmtpSink, url: str
) -> None:
    with database.transaction() as session:
        registry(session, tlds=("test", "io"))
    case_id = noticed_case(database, mail_settings, url)
    queue_alert(database, case_id)
    drain(database, mail_settings)

    assert alerts_of(database, case_id) == []
    assert sink.messages() == []


def test_a_registry_listed_under_the_tld_gets_alerts_for_second_level_suffixes(
    db: Session,
) -> None:
    uk = registry(db, tlds=("uk",))
    case = open_case(db, "http://www.badsite.co.uk/gallery/1.html")

    target = alerts.alert_target(db, case)

    assert target is not None
    assert (target.domain, target.tld, target.registry.id) == ("badsite.co.uk", "uk", uk.id)


def test_no_alert_for_a_case_no_longer_confirmed(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    with database.transaction() as session:
        registry(session)
    case_id = noticed_case(database, mail_settings)
    with database.transaction() as session:
        session.get_one(Case, case_id).state = CaseState.CLOSED
    queue_alert(database, case_id)
    drain(database, mail_settings)

    assert alerts_of(database, case_id) == []


def test_a_domain_alert_is_never_renoticed_or_escalated(db: Session, settings: Settings) -> None:
    target = registry(db)
    case = open_case(db)
    alert = notices.create_notice(
        db,
        case,
        kind=NoticeKind.DOMAIN_ALERT,
        org=target,
        org_name=target.name,
        country="NL",
        settings=settings,
        now=NOW,
    )
    mark_sent(alert)
    db.flush()

    later = NOW + settings.renotice_after * (settings.max_renotices + 2)
    assert follow_up(db, case, settings=settings, now=later) == []
    assert [n.kind for n in notices.case_notices(db, case.id)] == [NoticeKind.DOMAIN_ALERT]
