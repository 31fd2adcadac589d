"""Routing over the JSON API: the jurisdiction rules, and a case's route."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from takedown.auth.principal import Permission, Principal
from takedown.cases import service as cases
from takedown.cases.states import TRACEABLE
from takedown.cases.visibility import check_staff
from takedown.errors import NotFound
from takedown.notices.steps import advance
from takedown.routing import rules, service
from takedown.routing.models import Route
from takedown.routing.schemas import (
    EffectiveRuleOut,
    RouteOut,
    RouteStepOut,
    RuleIn,
    RuleListOut,
    RuleOut,
)
from takedown.web.deps import State, Tx, json_body, require

router = APIRouter(tags=["routing"])
# Rules name partner hotlines and say how the hotline treats each country: like the directory,
# staff read them (admins, supervisors, analysts); organizations' keys and police never do.
RuleReader = Annotated[Principal, Depends(require(Permission.ORGS_READ))]
# Rules are policy: changing one changes every route decided after it (administrators).
RuleAdmin = Annotated[Principal, Depends(require(Permission.ORGS_MANAGE))]
CaseReader = Annotated[Principal, Depends(require(Permission.CASES_READ))]


@router.get("/api/v1/routing/rules", response_model=RuleListOut)
def list_rules(caller: RuleReader, session: Tx, state: State) -> RuleListOut:
    """The stored rules per country (``*``: every country without its own rule but home), and
    the built-in defaults that apply where no rule does (staff who read the directory)."""
    home = state.settings.home_country
    return RuleListOut(
        home_country=home,
        rules=[RuleOut.model_validate(r) for r in rules.list_rules(session)],
        built_in_home=EffectiveRuleOut.model_validate(rules.builtin_rule(home, home_country=home)),
        built_in_abroad=EffectiveRuleOut.model_validate(rules.builtin_rule("*", home_country=home)),
    )


@router.put(
    "/api/v1/routing/rules/{country}", response_model=RuleOut, dependencies=[Depends(json_body)]
)
def put_rule(country: str, body: RuleIn, caller: RuleAdmin, session: Tx, state: State) -> RuleOut:
    """Create or change the rule for a country (ISO 3166-1 alpha-2) or ``*`` (admins).

    Fields left out keep their value; a new rule starts from the rule in force now. Cases
    routed from now on follow it; routes already decided stay as they are until re-decided.
    """
    row = rules.set_rule(
        session,
        caller,
        country,
        now=state.clock.now(),
        home_country=state.settings.home_country,
        **body.fields(),
    )
    return RuleOut.model_validate(row)


@router.delete("/api/v1/routing/rules/{country}", status_code=204)
def delete_rule(country: str, caller: RuleAdmin, session: Tx, state: State) -> Response:
    """Remove a country's rule: the ``*`` rule or the built-in defaults apply again (admins)."""
    rules.delete_rule(session, caller, country, now=state.clock.now())
    return Response(status_code=204)


def _route_out(session: Tx, route: Route) -> RouteOut:
    steps = [RouteStepOut.model_validate(s) for s in service.route_steps(session, route.id)]
    return RouteOut(
        id=route.id,
        case_id=route.case_id,
        trace_id=route.trace_id,
        kind=route.kind,
        decided_at=route.decided_at,
        explanation=route.explanation,
        data=route.data,
        steps=steps,
    )


@router.get("/api/v1/cases/{case_id}/route", response_model=RouteOut, tags=["cases"])
def get_route(case_id: uuid.UUID, caller: CaseReader, session: Tx) -> RouteOut:
    """The case's current route: who must act, in what order, and why (staff only)."""
    check_staff(case_id, caller)
    cases.get_case(session, case_id)
    route = service.current_route(session, case_id)
    if route is None:
        raise NotFound(f"case {case_id} has not been routed yet")
    return _route_out(session, route)


@router.post(
    "/api/v1/cases/{case_id}/route", response_model=RouteOut, status_code=201, tags=["cases"]
)
def reroute(
    case_id: uuid.UUID,
    caller: Annotated[Principal, Depends(require(Permission.CASES_SUPERVISE))],
    session: Tx,
    state: State,
) -> RouteOut:
    """Decide the case's route again from its latest trace, under the rules in force now
    (supervisors). Open steps of the previous route are superseded, and the new route's steps
    start (a notice already sent to the same organization is not sent again). No body."""
    check_staff(case_id, caller)
    now = state.clock.now()
    route = service.reroute(session, case_id, settings=state.settings, now=now, actor=caller)
    case = cases.get_case(session, case_id)
    if case.state in TRACEABLE:
        advance(session, case, settings=state.settings, now=now)
    return _route_out(session, route)
