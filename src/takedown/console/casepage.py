"""Everything the console's case page shows, gathered in one place for one viewer.

The page mirrors what the JSON API shows a staff member (``cases``, ``tracing``, ``routing``,
``notices``, ``lists`` and ``police`` APIs): traces, routes, notices and holds are the hotline's
working notes and go to staff only (``visibility.check_staff``). Console viewers are always
staff, but the check is kept so that the rule lives in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from takedown.auth.principal import Permission, Principal
from takedown.cases import service as cases
from takedown.cases import visibility
from takedown.cases.models import Case, CaseItem
from takedown.cases.service import TimelineEntry
from takedown.config import Settings
from takedown.console.assessform import AssessForm, assess_form
from takedown.errors import NotFound
from takedown.exposure import previews
from takedown.exposure import service as exposure
from takedown.intake.models import Report
from takedown.lists.entries import case_entries
from takedown.lists.models import UrlEntry
from takedown.notices import answers
from takedown.notices import service as notices
from takedown.notices.models import Notice, NoticeAnswer
from takedown.police import service as police
from takedown.police.models import Hold
from takedown.routing import service as routing
from takedown.routing.models import Route, RouteStep
from takedown.tracing import service as tracing
from takedown.tracing.models import Trace


@dataclass(frozen=True)
class NoticeRow:
    notice: Notice
    answers: Sequence[NoticeAnswer]


@dataclass(frozen=True)
class HoldRow:
    hold: Hold
    active: bool


@dataclass(frozen=True)
class CasePage:
    case: Case
    reports: Sequence[Report]
    timeline: list[TimelineEntry]
    items: Sequence[CaseItem]
    item_views: list[previews.ItemView]
    # For viewers who can reveal; None for the others (police).
    exposure: exposure.Exposure | None
    staff: bool
    # The assessment form, for viewers who assess (None for police).
    assess: AssessForm | None = None
    trace: Trace | None = None
    route: Route | None = None
    steps: Sequence[RouteStep] = ()
    notices: list[NoticeRow] = field(default_factory=list)
    entries: list[UrlEntry] = field(default_factory=list)
    holds: list[HoldRow] = field(default_factory=list)


def _staff(case_id: uuid.UUID, caller: Principal) -> bool:
    try:
        visibility.check_staff(case_id, caller)
    except NotFound:
        return False
    return True


def case_page(
    session: Session,
    case_id: uuid.UUID,
    caller: Principal,
    *,
    settings: Settings,
    now: datetime,
) -> CasePage:
    """The case as ``caller`` may see it; NotFound for a case they may not see."""
    visibility.check_visible(session, case_id, caller)
    case = cases.get_case(session, case_id)
    reports = visibility.visible_reports(session, case.id, caller)
    items = cases.items(session, case.id)
    views = [previews.ItemView(i, previews.item_kind(i)) for i in items]
    figures: exposure.Exposure | None = None
    # Only those who assess reveal: their open reveals and exposure figures come with the page.
    if caller.can(Permission.CASES_ASSESS) and caller.user_id is not None:
        views = previews.item_views(session, items, caller.user_id, settings, now)
        figures = exposure.exposure_of(session, caller.user_id, settings, now)
    page = CasePage(
        case=case,
        reports=reports,
        timeline=cases.timeline(session, case, reports),
        items=items,
        item_views=views,
        exposure=figures,
        staff=_staff(case.id, caller),
        assess=assess_form(session, caller, case, items)
        if caller.can(Permission.CASES_ASSESS)
        else None,
    )
    if not page.staff:
        return page
    route = routing.current_route(session, case.id)
    by_notice = answers.case_answers(session, case.id)
    return replace(
        page,
        trace=tracing.latest_trace(session, case.id),
        route=route,
        steps=routing.route_steps(session, route.id) if route else (),
        notices=[
            NoticeRow(n, by_notice.get(n.id, [])) for n in notices.case_notices(session, case.id)
        ],
        entries=case_entries(session, case.id, live=False),
        holds=[
            HoldRow(h, h.released_at is None and h.until > now)
            for h in police.case_holds(session, case.id)
        ],
    )
