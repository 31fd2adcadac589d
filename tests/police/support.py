"""Builders for police tests: a confirmed case routed police-first, and what it left behind.

Addresses are from the documentation ranges (RFC 5737), organizations and URLs are fictional.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.cases.models import Case, CaseEvent
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job
from takedown.jobs.registry import JobContext, load_handlers
from takedown.notices.models import Notice
from takedown.notices.steps import advance
from takedown.orgs.models import Organization, OrgKind
from takedown.routing import rules
from takedown.routing.models import PoliceTimeout, RouteStep, StepAction
from takedown.routing.service import route_case
from tests.factories import ACTOR, NOW
from tests.orgs.support import directory_org
from tests.routing.support import HOME, Host, add_trace, confirmed_case, ref, serving, trace_data

TASKS = "takedown.flow.police"
WAIT = 3600


@dataclass(frozen=True)
class Routed:
    """A case routed police first: its police step, and the notice step waiting for it."""

    case: Case
    police: RouteStep
    notice: RouteStep


def police_case(
    session: Session,
    settings: Settings,
    *,
    on_timeout: PoliceTimeout = PoliceTimeout.PROCEED,
    url: str = "http://host.example/a.jpg",
    start: bool = True,
) -> Routed:
    """A confirmed case at home, whose rule asks police first; started (``advance``) unless
    ``start`` is false. Police and host are made on the first call."""
    police = _named(session, "Example Police NL") or serving(
        session, "Example Police NL", OrgKind.POLICE, HOME
    )
    host = _named(session, "Example Hosting NL") or directory_org(
        session, "Example Hosting NL", abuse_email="abuse@hosting-nl.example"
    )
    rules.set_rule(
        session,
        ACTOR,
        HOME,
        now=NOW,
        home_country=HOME,
        police_first=True,
        police_wait_seconds=WAIT,
        on_police_timeout=on_timeout,
    )
    case = confirmed_case(session, url)
    facts = trace_data(Host("192.0.2.10", HOME, 64500, ref(host.name, host.id, country=HOME)))
    route_case(
        session, case, add_trace(session, case, facts), settings=settings, now=NOW, actor=SYSTEM
    )
    if start:
        advance(session, case, settings=settings, now=NOW)
    session.flush()
    steps = session.scalars(
        select(RouteStep).where(RouteStep.case_id == case.id).order_by(RouteStep.seq)
    ).all()
    by_action = {s.action: s for s in steps}
    assert by_action[StepAction.POLICE_DECONFLICTION].org_id == police.id
    return Routed(case, by_action[StepAction.POLICE_DECONFLICTION], by_action[StepAction.NOTICE])


def _named(session: Session, name: str) -> Organization | None:
    return session.scalars(select(Organization).where(Organization.name == name)).first()


def notices_of(session: Session, case_id: uuid.UUID) -> Sequence[Notice]:
    return session.scalars(select(Notice).where(Notice.case_id == case_id)).all()


def jobs_named(session: Session, name: str) -> list[Job]:
    return list(
        session.scalars(select(Job).where(Job.name == name).order_by(Job.run_at, Job.id)).all()
    )


def event_kinds(session: Session, case_id: uuid.UUID) -> list[str]:
    return list(
        session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at)
        ).all()
    )


def police_settings(settings: Settings) -> Settings:
    """Settings whose workers load the police handlers, registered or not in the built-ins."""
    return settings.model_copy(update={"job_modules": [TASKS], "home_country": HOME})


def run_handler(
    session: Session,
    database: Database,
    settings: Settings,
    name: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    """Run the registered handler of ``name`` in ``session``, as a worker would at ``at``."""
    handler = load_handlers(police_settings(settings)).get(name)
    assert handler is not None, f"no handler for {name}"
    ctx = JobContext(
        session=session,
        settings=settings,
        clock=FrozenClock(at),
        job_id=uuid.uuid4(),
        attempt=1,
        name=name,
        database=database,
    )
    handler.func(ctx, payload)
    session.flush()
