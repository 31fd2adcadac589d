"""End to end in the sandbox: report → capture → trace → route → notice → re-check → removal.

Every branch of the walk on the sandbox's simulated internet (loopback DNS, web hosts, SMTP
and RDAP, with simulated providers reading the notices): quick removal, removal only after
a re-notice, escalation to the registrar, a police hold then release, forwarding to a
partner hotline, and a provider answering through the notice's link. Every notice that
reaches the SMTP sink must validate as X-ARF v4. The images are the sandbox's generated,
benign patterns; "known" means the pattern's hash is in the sandbox's bank.

The worker runs on a frozen clock that the test moves on; the providers act in real time
(a few milliseconds after a notice arrives).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import uvicorn
from sqlalchemy import select

from takedown.app import create_app
from takedown.auth.principal import PUBLIC, SYSTEM, Principal, cli_principal
from takedown.cases.models import Case, CaseState
from takedown.cases.schemas import CaseOut
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.lists import entries, exports, versions
from takedown.lists.models import EntryStatus, ListName
from takedown.lists.rows import unpack
from takedown.notices import service as notices
from takedown.notices.models import AnswerKind, Notice, NoticeAnswer, NoticeKind, NoticeStatus
from takedown.notices.xarf import validate_xarf
from takedown.police import service as police
from takedown.police.models import Hold
from takedown.routing.models import StepAction, StepStatus
from takedown.routing.service import current_route, route_steps
from takedown.sandbox.providers import default_providers
from takedown.sandbox.world import SandboxWorld
from tests.factories import NOW
from tests.jobs.support import wait_until

POLICE: Principal = cli_principal("police officer")
QUICK, STUBBORN, SILENT, ANSWERING, ABROAD = (
    "Sandbox Quick Hosting",
    "Sandbox Stubborn Hosting",
    "Sandbox Silent Hosting",
    "Sandbox Answering Hosting",
    "Sandbox Hosting DE",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Walk:
    """The sandbox, the database, a worker on a frozen clock, and the hotline's web server."""

    def __init__(self, world: SandboxWorld, database: Database, settings: Settings) -> None:
        self.world, self.database, self.settings = world, database, settings
        self.clock = FrozenClock(NOW)
        self.worker = Worker(database, settings, clock=self.clock, registry=load_handlers(settings))

    def drain(self) -> None:
        while self.worker.run_once():
            pass

    def later(self, delta: timedelta) -> None:
        """Move the clock on and run whatever became due."""
        self.clock.advance(delta)
        self.drain()

    def report(self, provider: str, path: str) -> uuid.UUID:
        url = self.world.add_site(provider, path, known=True)
        with self.database.transaction() as session:
            result = intake.submit_one(
                session, self.settings, PUBLIC, ReportIn(url=url), now=self.clock.now()
            )
        assert result.case_id is not None
        self.drain()  # capture (known: confirmed without anyone looking), trace, route
        return result.case_id

    def case(self, case_id: uuid.UUID) -> Case:
        with self.database.sessions() as session:
            return session.get_one(Case, case_id)

    def notices(self, case_id: uuid.UUID, *, alerts: bool = False) -> list[Notice]:
        """The case's notices; the registry's domain alert only with ``alerts``."""
        with self.database.sessions() as session:
            found = notices.case_notices(session, case_id)
            return [n for n in found if alerts or n.kind is not NoticeKind.DOMAIN_ALERT]

    def steps(self, case_id: uuid.UUID) -> list[tuple[StepAction, StepStatus]]:
        with self.database.sessions() as session:
            route = current_route(session, case_id)
            assert route is not None
            return [(s.action, s.status) for s in route_steps(session, route.id)]

    def clear(self, case_id: uuid.UUID) -> None:
        with self.database.transaction() as session:
            case = session.get_one(Case, case_id)
            police.clear(session, case, POLICE, settings=self.settings, now=self.clock.now())
        self.drain()

    def gone(self, url: str) -> None:
        wait_until(lambda: not self.world.is_live(url), 10, f"the provider to remove {url}")

    def until_removed(self, case_id: uuid.UUID, limit: timedelta) -> None:
        """Let re-checks run (every interval) until the case is removed or ``limit`` passes."""
        end = self.clock.now() + limit
        while self.case(case_id).removed_at is None and self.clock.now() < end:
            self.later(self.settings.recheck_interval)

    def check_every_notice_is_xarf(self) -> None:
        messages = self.world.smtp.messages()
        assert messages
        for message in messages:
            assert message.xarf, f"{message.subject} carries no X-ARF"
            for document in message.xarf:
                assert validate_xarf(document) == [], message.subject


@pytest.fixture
def walk(committed: Database, settings: Settings) -> Iterator[Walk]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SandboxWorld(default_providers(delay=0.01), answer_base_url=base) as world:
        sandboxed = settings.model_copy(
            update=world.settings_overrides() | {"public_base_url": base}
        )
        walk = Walk(world, committed, sandboxed)
        with committed.transaction() as session:
            world.seed(session, sandboxed, NOW)
        app = create_app(sandboxed, database=committed, clock=walk.clock)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_until(lambda: server.started, 10, "the hotline's web server")
        try:
            yield walk
        finally:
            server.should_exit = True
            thread.join(10)


def kinds(found: list[Notice]) -> list[tuple[NoticeKind, str]]:
    return [(n.kind, n.org_name) for n in found]


def test_quick_removal_after_police_clear_is_seen_by_the_recheck(walk: Walk) -> None:
    case_id = walk.report(QUICK, "/quick.html")
    case = walk.case(case_id)
    assert case.state is CaseState.CONFIRMED
    # Hosted at home: police first; nothing is sent before they clear it.
    assert walk.steps(case_id)[:2] == [
        (StepAction.POLICE_DECONFLICTION, StepStatus.IN_PROGRESS),
        (StepAction.NOTICE, StepStatus.WAITING),
    ]
    assert walk.notices(case_id) == []

    walk.clear(case_id)
    [notice] = walk.notices(case_id)
    assert (notice.kind, notice.org_name, notice.status) == (
        NoticeKind.NOTICE,
        QUICK,
        NoticeStatus.SENT,
    )
    walk.gone(case.url)
    walk.later(walk.settings.recheck_first)

    case = walk.case(case_id)
    assert case.removed_at == NOW + walk.settings.recheck_first
    assert case.first_notice_at == NOW
    assert case.state is CaseState.CLOSED
    shown = CaseOut.model_validate(case)
    seconds = walk.settings.recheck_first.total_seconds()
    assert shown.seconds_to_removal_from_report == seconds
    assert shown.seconds_to_removal_from_notice == seconds
    walk.check_every_notice_is_xarf()


def test_a_stubborn_host_removes_after_the_renotice(walk: Walk) -> None:
    case_id = walk.report(STUBBORN, "/stubborn.html")
    walk.clear(case_id)
    url = walk.case(case_id).url
    # Live for a day: re-checks find it, and after renotice_after a re-notice goes out.
    walk.until_removed(case_id, walk.settings.renotice_after + timedelta(hours=1))
    assert kinds(walk.notices(case_id))[-1] == (NoticeKind.RENOTICE, STUBBORN)
    # The registry of .test was alerted once the host had its notice; it did not act.
    [alert] = [n for n in walk.notices(case_id, alerts=True) if n.kind is NoticeKind.DOMAIN_ALERT]
    assert (alert.org_name, alert.status) == ("Sandbox Registry", NoticeStatus.SENT)
    walk.gone(url)
    walk.until_removed(case_id, timedelta(days=1))

    assert kinds(walk.notices(case_id)) == [
        (NoticeKind.NOTICE, STUBBORN),
        (NoticeKind.RENOTICE, STUBBORN),
    ]
    assert walk.case(case_id).removed_at is not None
    walk.check_every_notice_is_xarf()


def test_a_silent_host_is_escalated_to_the_registrar(walk: Walk) -> None:
    case_id = walk.report(SILENT, "/silent.html")
    walk.clear(case_id)
    walk.until_removed(case_id, timedelta(days=5))

    sent = kinds(walk.notices(case_id))
    renotices = walk.settings.max_renotices
    assert sent == [
        (NoticeKind.NOTICE, SILENT),
        *[(NoticeKind.RENOTICE, SILENT)] * renotices,
        (NoticeKind.ESCALATION, "Sandbox Registrar"),
    ]
    case = walk.case(case_id)
    assert case.escalated_at is not None, "a supervisor is told"
    assert case.removed_at is not None, "the registrar suspended the name"
    walk.check_every_notice_is_xarf()


def test_a_police_hold_keeps_notices_back_until_it_is_released(walk: Walk) -> None:
    case_id = walk.report(QUICK, "/held.html")
    with walk.database.transaction() as session:
        case = session.get_one(Case, case_id)
        hold = police.place_hold(
            session,
            case,
            POLICE,
            until=NOW + timedelta(days=3),
            reason="an investigation is under way",
            preserve_evidence=True,
            settings=walk.settings,
            now=walk.clock.now(),
        )
        hold_id = hold.id
    # Police wait times out while the hold stands: still nothing goes out.
    walk.later(timedelta(days=1, hours=1))
    assert walk.notices(case_id) == []
    assert walk.world.smtp.messages() == []

    with walk.database.transaction() as session:
        held = session.get_one(Hold, hold_id)
        police.release_hold(session, held, POLICE, settings=walk.settings, now=walk.clock.now())
    walk.drain()
    [notice] = walk.notices(case_id)
    assert notice.status is NoticeStatus.SENT
    # The host's notice, and right after it the registry's domain alert that it wakes.
    host, registry = walk.world.smtp.messages()
    assert host.reference == notice.reference
    assert "preserve" in (host.text or "").lower()
    assert registry.subject.startswith(f"[{registry.reference}] Domain alert")
    walk.gone(walk.case(case_id).url)
    walk.until_removed(case_id, timedelta(days=1))
    assert walk.case(case_id).removed_at is not None
    walk.check_every_notice_is_xarf()


def test_content_abroad_is_forwarded_to_the_partner_hotline(walk: Walk) -> None:
    case_id = walk.report(ABROAD, "/abroad.html")

    [forward] = walk.notices(case_id)
    assert (forward.kind, forward.org_name, forward.status) == (
        NoticeKind.FORWARD,
        "Sandbox Hotline DE",
        NoticeStatus.SENT,
    )
    steps = dict(walk.steps(case_id))
    assert steps[StepAction.FORWARD_TO_PARTNER] is StepStatus.DONE
    assert steps[StepAction.LIST_URL] is StepStatus.DONE
    with walk.database.transaction() as session:
        [entry] = entries.case_entries(session, case_id)
        assert entry.status is EntryStatus.ACTIVE
        assert entry.expression.endswith("/abroad.html")
        version = versions.publish(
            session, ListName.URLS, actor=SYSTEM, now=walk.clock.now(), settings=walk.settings
        )
        assert version is not None
        rows = unpack(version.content)
        for fmt in ("txt", "csv", "json"):
            body = exports.render(
                ListName.URLS, version.number, version.created_at, rows, fmt, walk.settings
            )
            assert entry.expression in body.decode(), fmt
        hashed = exports.render(
            ListName.URLS, version.number, version.created_at, rows, "sha256", walk.settings
        )
        assert hashlib.sha256(entry.expression.encode()).hexdigest() in hashed.decode()
    # Partner-forwarded cases are re-checked the same way; removal takes the URL off the list.
    walk.gone(walk.case(case_id).url)
    walk.until_removed(case_id, timedelta(days=1))
    assert walk.case(case_id).removed_at is not None
    with walk.database.transaction() as session:
        assert entries.case_entries(session, case_id) == []
        [withdrawn] = entries.case_entries(session, case_id, live=False)
        assert withdrawn.withdrawn_reason == "content removed"
    walk.check_every_notice_is_xarf()


def test_a_provider_answers_through_the_link_and_the_recheck_confirms(walk: Walk) -> None:
    case_id = walk.report(ANSWERING, "/answering.html")
    walk.clear(case_id)
    url = walk.case(case_id).url
    walk.gone(url)

    def answered() -> bool:
        [notice] = walk.notices(case_id)
        return notice.answer is AnswerKind.REMOVED

    wait_until(answered, 10, "the provider's answer through the link")
    # "Removed" brings the re-check forward to now; the case counts as removed only once seen.
    walk.drain()
    case = walk.case(case_id)
    assert case.removed_at == NOW
    with walk.database.sessions() as session:
        answers = session.scalars(
            select(NoticeAnswer.kind)
            .where(NoticeAnswer.case_id == case_id)
            .order_by(NoticeAnswer.at)
        ).all()
    assert answers == [AnswerKind.ACKNOWLEDGED, AnswerKind.REMOVED]
    walk.check_every_notice_is_xarf()
