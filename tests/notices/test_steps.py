"""Carrying out a route: a route decided again does not repeat what was done."""

from __future__ import annotations

from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.config import Settings
from takedown.notices.models import NoticeKind, NoticeStatus
from takedown.notices.steps import advance
from takedown.police import service as police
from takedown.routing.models import StepAction, StepStatus
from takedown.routing.service import current_route, reroute, route_steps
from tests.factories import ACTOR, NOW
from tests.police.support import notices_of, police_case


def steps(db: Session, case_id: object) -> list[tuple[StepAction, StepStatus]]:
    route = current_route(db, case_id)  # type: ignore[arg-type]
    assert route is not None
    return [(s.action, s.status) for s in route_steps(db, route.id)]


def test_a_new_route_neither_asks_police_again_nor_repeats_a_notice(
    db: Session, settings: Settings
) -> None:
    routed = police_case(db, settings)
    police.clear(db, routed.case, ACTOR, settings=settings, now=NOW)
    [notice] = notices_of(db, routed.case.id)
    notice.status = NoticeStatus.SENT  # it went out

    reroute(db, routed.case.id, settings=settings, now=NOW, actor=SYSTEM)
    advance(db, routed.case, settings=settings, now=NOW)

    assert steps(db, routed.case.id) == [
        (StepAction.POLICE_DECONFLICTION, StepStatus.DONE),
        (StepAction.NOTICE, StepStatus.DONE),
    ]
    assert [(n.kind, n.org_name) for n in notices_of(db, routed.case.id)] == [
        (NoticeKind.NOTICE, "Example Hosting NL")
    ]


def test_nothing_starts_before_police_clear(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)
    assert steps(db, routed.case.id) == [
        (StepAction.POLICE_DECONFLICTION, StepStatus.IN_PROGRESS),
        (StepAction.NOTICE, StepStatus.WAITING),
    ]
    assert notices_of(db, routed.case.id) == []
