"""route_case(): rules and the directory from the database, routes and steps kept."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.auth.principal import SYSTEM
from takedown.cases.models import CaseEvent, CaseState
from takedown.config import Settings
from takedown.errors import Conflict, NotFound
from takedown.orgs.models import OrgKind
from takedown.routing import rules, service
from takedown.routing.models import Route, RouteKind, RouteStep, StepAction, StepStatus
from tests.factories import ACTOR, NOW

from .support import (
    BEISPIEL,
    DE_HOST,
    HOME,
    NL_HOST,
    US,
    Host,
    add_trace,
    confirmed_case,
    ref,
    serving,
    trace_data,
)


def steps(session: Session, route: Route) -> list[tuple[str, str | None, str]]:
    return [
        (s.action.value, s.org_name, s.status.value) for s in service.route_steps(session, route.id)
    ]


def test_a_route_is_kept_with_its_steps_event_and_audit(db: Session, settings: Settings) -> None:
    police = serving(db, "Politie", OrgKind.POLICE, "NL")
    case = confirmed_case(db)
    trace = add_trace(db, case, trace_data(NL_HOST))
    route = service.route_case(db, case, trace, settings=settings, now=NOW, actor=SYSTEM)
    assert (route.kind, route.trace_id, route.decided_at) == (RouteKind.HOME, trace.id, NOW)
    assert route.explanation.splitlines()[1] == (
        "Hosted in NL by Example Hosting (AS64500); NL is home: police first (wait 24 h), "
        "then notice to Example Hosting."
    )
    rows = service.route_steps(db, route.id)
    assert [(s.seq, s.action, s.status, s.after_seq) for s in rows] == [
        (1, StepAction.POLICE_DECONFLICTION, StepStatus.PLANNED, None),
        (2, StepAction.NOTICE, StepStatus.WAITING, 1),
    ]
    assert (rows[0].org_id, rows[0].org_name, rows[0].case_id) == (police.id, "Politie", case.id)
    # The trace's organization is not in this test's directory: the name is kept, not the id.
    assert (rows[1].org_id, rows[1].org_name, rows[1].country) == (None, "Example Hosting", "NL")
    assert route.data["home_country"] == HOME
    assert route.data["trace_id"] == str(trace.id)
    assert route.data["groups"][0]["rule"]["source"] == "built-in"
    assert [s["action"] for s in route.data["steps"]] == ["police_deconfliction", "notice"]
    event = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
    assert (event.kind, event.actor) == ("routed", "system")
    assert event.message == route.explanation.splitlines()[0]
    assert event.message.startswith("Home route: police deconfliction with Politie")
    assert event.data["route_id"] == str(route.id)
    audit = db.scalars(select(AuditRecord).where(AuditRecord.action == "case.route")).one()
    assert audit.object_id == str(case.id)
    assert audit.details["kind"] == "home"
    assert service.current_route(db, case.id) == route


def test_steps_keep_directory_ids(db: Session, settings: Settings) -> None:
    host = serving(db, "Beispiel Hosting GmbH", OrgKind.HOSTING_PROVIDER, country="DE")
    known = ref(host.name, host.id)
    case = confirmed_case(db)
    data = trace_data(Host(DE_HOST.ip, "DE", 64501, known))
    route = service.route_case(
        db, case, add_trace(db, case, data), settings=settings, now=NOW, actor=ACTOR
    )
    notice = service.route_steps(db, route.id)[0]
    assert (notice.action, notice.org_id) == (StepAction.NOTICE, host.id)


def test_changing_a_rule_changes_the_route_of_the_next_case(
    db: Session, settings: Settings
) -> None:
    serving(db, "eco", OrgKind.HOTLINE, "DE")
    first = confirmed_case(db, "http://one.example/a")
    route = before = service.route_case(
        db,
        first,
        add_trace(db, first, trace_data(DE_HOST)),
        settings=settings,
        now=NOW,
        actor=ACTOR,
    )
    assert route.kind is RouteKind.PARTNER
    assert steps(db, route) == [
        ("forward_to_partner", "eco", "planned"),
        ("list_url", None, "planned"),
    ]

    rules.set_rule(db, ACTOR, "DE", now=NOW, home_country=HOME, list_url=False)
    second = confirmed_case(db, "http://two.example/b")
    later = NOW + timedelta(minutes=5)
    route = service.route_case(
        db,
        second,
        add_trace(db, second, trace_data(DE_HOST)),
        settings=settings,
        now=later,
        actor=ACTOR,
    )
    assert steps(db, route) == [("forward_to_partner", "eco", "planned")]
    assert route.data["groups"][0]["rule"]["source"] == "country rule"

    rules.set_rule(db, ACTOR, "DE", now=NOW, home_country=HOME, forward_to_partner=False)
    third = confirmed_case(db, "http://three.example/c")
    route = service.route_case(
        db,
        third,
        add_trace(db, third, trace_data(DE_HOST)),
        settings=settings,
        now=later,
        actor=ACTOR,
    )
    assert route.kind is RouteKind.ABROAD
    assert steps(db, route) == [
        ("notice", BEISPIEL.name, "planned"),
        ("police_referral", None, "planned"),
    ]
    # Routes already decided keep the rule they were decided under.
    assert service.current_route(db, first.id) == before
    assert steps(db, before) == [
        ("forward_to_partner", "eco", "planned"),
        ("list_url", None, "planned"),
    ]


def test_the_rules_partner_is_preferred_over_the_directory(db: Session, settings: Settings) -> None:
    serving(db, "Alpha Hotline", OrgKind.HOTLINE, "DE")
    chosen = serving(db, "Zulu Hotline", OrgKind.HOTLINE, "AT", country="AT")
    assert service.partner_for(db, "DE") is not None
    assert service.partner_for(db, "DE").name == "Alpha Hotline"  # type: ignore[union-attr]
    rules.set_rule(db, ACTOR, "DE", now=NOW, home_country=HOME, partner_org_id=chosen.id)
    case = confirmed_case(db)
    route = service.route_case(
        db, case, add_trace(db, case, trace_data(DE_HOST)), settings=settings, now=NOW, actor=ACTOR
    )
    forward = service.route_steps(db, route.id)[0]
    assert (forward.action, forward.org_id) == (StepAction.FORWARD_TO_PARTNER, chosen.id)


def test_partner_and_police_lookups(db: Session) -> None:
    serving(db, "Politie", OrgKind.POLICE, "NL")
    serving(db, "Beta Hotline", OrgKind.HOTLINE, "DE", "AT")
    serving(db, "Alpha Hotline", OrgKind.HOTLINE, "AT")
    serving(db, "Aardvark Police", OrgKind.POLICE, "DE")
    assert service.partner_for(db, "AT").name == "Alpha Hotline"  # type: ignore[union-attr]
    assert service.partner_for(db, "DE").name == "Beta Hotline"  # type: ignore[union-attr]
    assert service.partner_for(db, "FR") is None
    assert service.police_for(db, "NL").name == "Politie"  # type: ignore[union-attr]
    assert service.police_for(db, "AT") is None
    police = service.police_for(db, "NL")
    assert police is not None
    # A rule's partner that is not a hotline (changed since) is not used.
    assert service.partner_for(db, "FR", preferred=police.id) is None


def test_a_new_route_supersedes_open_steps_only(db: Session, settings: Settings) -> None:
    case = confirmed_case(db)
    first = service.route_case(
        db, case, add_trace(db, case, trace_data(US)), settings=settings, now=NOW, actor=ACTOR
    )
    notice, referral, listing = service.route_steps(db, first.id)
    listing.status = StepStatus.DONE
    referral.status = StepStatus.IN_PROGRESS
    later = NOW + timedelta(hours=1)
    trace = add_trace(db, case, trace_data(NL_HOST), at=later)
    second = service.route_case(db, case, trace, settings=settings, now=later, actor=ACTOR)
    db.expire_all()
    assert [s.status for s in service.route_steps(db, first.id)] == [
        StepStatus.SUPERSEDED,
        StepStatus.IN_PROGRESS,
        StepStatus.DONE,
    ]
    assert db.get_one(RouteStep, notice.id).updated_at == later
    assert [s.status for s in service.route_steps(db, second.id)] == [
        StepStatus.PLANNED,
        StepStatus.WAITING,
    ]
    assert service.current_route(db, case.id) == second


def test_routes_decided_in_the_same_instant_keep_their_order(
    db: Session, settings: Settings
) -> None:
    case = confirmed_case(db)
    trace = add_trace(db, case, trace_data(US))
    first = service.route_case(db, case, trace, settings=settings, now=NOW, actor=ACTOR)
    second = service.route_case(db, case, trace, settings=settings, now=NOW, actor=ACTOR)
    assert second.decided_at > first.decided_at
    assert service.current_route(db, case.id) == second
    statuses = {s.status for s in service.route_steps(db, first.id)}
    assert statuses == {StepStatus.SUPERSEDED}


def test_no_trace_gives_an_undetermined_route(db: Session, settings: Settings) -> None:
    case = confirmed_case(db)
    route = service.route_case(db, case, None, settings=settings, now=NOW, actor=ACTOR)
    assert route.kind is RouteKind.UNDETERMINED
    assert route.trace_id is None
    assert route.data["missing"] == ["a trace of the host"]
    assert service.route_steps(db, route.id) == []
    assert route.explanation == (
        "Undetermined route: no step until the hosting country is known.\n"
        "Missing: a trace of the host."
    )


def test_only_confirmed_cases_are_routed(db: Session, settings: Settings) -> None:
    case = confirmed_case(db)
    case.state = CaseState.NOT_ILLEGAL
    with pytest.raises(Conflict, match="only confirmed cases"):
        service.route_case(db, case, None, settings=settings, now=NOW, actor=ACTOR)
    assert db.scalars(select(Route)).all() == []


def test_reroute_uses_the_latest_trace(db: Session, settings: Settings) -> None:
    case = confirmed_case(db)
    add_trace(db, case, trace_data(US), at=NOW)
    newest = add_trace(db, case, trace_data(DE_HOST), at=NOW + timedelta(hours=2))
    add_trace(db, case, trace_data(NL_HOST), at=NOW + timedelta(hours=1))
    route = service.reroute(db, case.id, settings=settings, now=NOW, actor=ACTOR)
    assert route.trace_id == newest.id
    assert route.data["groups"][0]["country"] == "DE"
    with pytest.raises(NotFound, match="no case"):
        service.reroute(db, uuid.uuid4(), settings=settings, now=NOW, actor=ACTOR)
