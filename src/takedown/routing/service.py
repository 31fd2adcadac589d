"""Routing a confirmed case: load what the decision needs, decide, and keep the route.

:func:`route_case` loads the rules, partners and police for a trace's facts
(:func:`load_context`), lets :func:`takedown.routing.decide.decide` choose the steps, and
keeps the result as a ``Route`` with its ``RouteStep``s. Nothing is enqueued here: later
work (notices, police, lists) carries the steps out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.cases.states import TRACEABLE
from takedown.config import Settings
from takedown.errors import Conflict
from takedown.orgs.models import Organization, OrgCountry, OrgKind
from takedown.routing import explain, rules
from takedown.routing.decide import decide
from takedown.routing.models import Route, RouteStep, StepStatus
from takedown.routing.schemas import Decision, OrgInfo, RoutingContext
from takedown.tracing.models import Trace
from takedown.tracing.schemas import TraceData
from takedown.tracing.service import latest_trace

_OPEN = (StepStatus.PLANNED, StepStatus.WAITING)


def _serving(session: Session, kind: OrgKind, country: str) -> Organization | None:
    return session.scalars(
        select(Organization)
        .join(OrgCountry, OrgCountry.org_id == Organization.id)
        .where(Organization.kind == kind, OrgCountry.country == country)
        .order_by(Organization.name)
        .limit(1)
    ).first()


def partner_for(
    session: Session, country: str, *, preferred: uuid.UUID | None = None
) -> Organization | None:
    """The partner hotline for ``country``: the rule's (``preferred``), else the first by name
    of the hotlines serving the country in the directory."""
    if preferred is not None:
        chosen = session.get(Organization, preferred)
        if chosen is not None and chosen.kind is OrgKind.HOTLINE:
            return chosen
    return _serving(session, OrgKind.HOTLINE, country)


def partner_org_name(session: Session, org_id: uuid.UUID | None) -> str | None:
    """The name of a rule's partner hotline, for display."""
    org = session.get(Organization, org_id) if org_id is not None else None
    return org.name if org else None


def police_for(session: Session, country: str) -> Organization | None:
    """The police organization serving ``country`` (first by name): deconfliction, referrals."""
    return _serving(session, OrgKind.POLICE, country)


def load_context(session: Session, facts: TraceData | None, *, home_country: str) -> RoutingContext:
    """The rules, partners and police that :func:`decide` needs for these facts."""
    countries = sorted({g.country for g in facts.hosting if g.country} if facts else set())
    found = {c: rules.get_rule(session, c, home_country=home_country) for c in countries}
    partners: dict[str, OrgInfo] = {}
    for country in countries:
        if country == home_country:
            continue
        partner = partner_for(session, country, preferred=found[country].partner_org_id)
        if partner is not None:
            partners[country] = OrgInfo.of(partner)
    police = police_for(session, home_country)
    return RoutingContext(
        home_country=home_country,
        rules=found,
        partners=partners,
        police=OrgInfo.of(police) if police else None,
    )


def current_route(session: Session, case_id: uuid.UUID) -> Route | None:
    """The case's newest route (earlier ones are kept, their open steps superseded)."""
    return session.scalars(
        select(Route).where(Route.case_id == case_id).order_by(Route.decided_at.desc()).limit(1)
    ).first()


def route_steps(session: Session, route_id: uuid.UUID) -> Sequence[RouteStep]:
    return session.scalars(
        select(RouteStep).where(RouteStep.route_id == route_id).order_by(RouteStep.seq)
    ).all()


def _decided_at(session: Session, case_id: uuid.UUID, now: datetime) -> datetime:
    previous = current_route(session, case_id)
    if previous is not None and previous.decided_at >= now:
        # Two decisions in the same instant (a frozen or coarse clock): "newest decided_at"
        # must still name the current route, without a sequence column.
        return previous.decided_at + timedelta(microseconds=1)
    return now


def _store_steps(session: Session, route: Route, decision: Decision, now: datetime) -> None:
    # A trace names directory organizations by id; one deleted since keeps its name only.
    ids = {s.org.id for s in decision.steps if s.org and s.org.id}
    known = set(session.scalars(select(Organization.id).where(Organization.id.in_(ids))))
    session.add_all(
        RouteStep(
            route_id=route.id,
            case_id=route.case_id,
            seq=step.seq,
            action=step.action,
            status=step.status,
            after_seq=step.after_seq,
            org_id=step.org.id if step.org and step.org.id in known else None,
            org_name=step.org.name if step.org else None,
            country=step.country,
            reason=step.reason,
            data=step.data,
            updated_at=now,
        )
        for step in decision.steps
    )


def route_case(
    session: Session,
    case: Case,
    trace: Trace | None,
    *,
    settings: Settings,
    now: datetime,
    actor: Principal,
) -> Route:
    """Decide and keep the case's route; open steps of earlier routes become superseded.

    The first line of the explanation goes on the case's timeline; the audit log records
    the route and its steps. Nothing is enqueued: later work carries the steps out.
    """
    if case.state not in TRACEABLE:
        raise Conflict(f"only confirmed cases are routed; case {case.id} is {case.state.value}")
    home = settings.home_country
    facts = TraceData.model_validate(trace.data) if trace is not None else None
    decision = decide(facts, load_context(session, facts, home_country=home))
    text = explain.explain(decision)
    trace_id = trace.id if trace is not None else None
    route = Route(
        case_id=case.id,
        trace_id=trace_id,
        kind=decision.kind,
        decided_at=_decided_at(session, case.id, now),
        explanation=text,
        data=decision.as_data(home_country=home, trace_id=trace_id),
    )
    session.execute(
        update(RouteStep)
        .where(RouteStep.case_id == case.id, RouteStep.status.in_(_OPEN))
        .values(status=StepStatus.SUPERSEDED, updated_at=now)
    )
    session.add(route)
    session.flush()
    _store_steps(session, route, decision, now)
    summary = {
        "route_id": str(route.id),
        "kind": decision.kind.value,
        "trace_id": str(trace_id) if trace_id else None,
        "steps": [f"{s.action.value}:{s.org.name if s.org else '-'}" for s in decision.steps],
        "missing": list(decision.missing),
    }
    first_line = text.splitlines()[0]
    cases.add_event(session, case, "routed", first_line, actor=actor.label, at=now, data=summary)
    audit.record(session, actor, "case.route", "case", case.id, at=now, details=summary)
    session.flush()
    return route


def reroute(
    session: Session, case_id: uuid.UUID, *, settings: Settings, now: datetime, actor: Principal
) -> Route:
    """Decide the case's route again from its latest trace (rules or the directory changed)."""
    case = cases.get_case(session, case_id)
    return route_case(
        session, case, latest_trace(session, case_id), settings=settings, now=now, actor=actor
    )
