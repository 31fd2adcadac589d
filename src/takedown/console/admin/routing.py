"""Routing rules: set, edit and delete the rule for a country."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.console.admin.common import ADMIN, FormState, OrgAdmin, _field_of
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import NotFound, ValidationFailed
from takedown.orgs import service as orgs
from takedown.orgs.models import OrgKind
from takedown.routing import rules
from takedown.routing.explain import format_wait
from takedown.routing.models import DEFAULT_COUNTRY, PoliceTimeout
from takedown.routing.service import partner_org_name
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
ROUTING: Final = f"{ADMIN}/routing"
# The form's fields, and the rule field each error names (rules.set_rule's messages start with
# the rule field's name).
RULE_FORM_FIELDS: Final = {
    "country": "country",
    "police_first": "police_first",
    "police_wait_seconds": "police_wait",
    "on_police_timeout": "on_timeout",
    "partner_org_id": "partner",
    "forward_to_partner": "forward_to_partner",
    "list_url": "list_url",
    "notes": "notes",
}


def _rule_values(rule: rules.EffectiveRule | Any) -> dict[str, Any]:
    return {
        "country": rule.country,
        "police_first": rule.police_first,
        "police_wait": runtime.format_duration(timedelta(seconds=rule.police_wait_seconds)),
        "on_timeout": rule.on_police_timeout.value,
        "partner": str(rule.partner_org_id) if rule.partner_org_id else "",
        "forward_to_partner": rule.forward_to_partner,
        "list_url": rule.list_url,
        "notes": rule.notes,
    }


def _routing_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    state: State,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    home = state.settings.home_country
    stored = rules.list_rules(session)
    if form is None:
        form = FormState(
            values=_rule_values(rules.builtin_rule(DEFAULT_COUNTRY, home_country=home))
        )
    return view(
        request,
        "console/admin_routing.html",
        viewer,
        {
            "rules": [(r, partner_org_name(session, r.partner_org_id)) for r in stored],
            "home": home,
            "builtin_home": rules.builtin_rule(home, home_country=home),
            "builtin_other": rules.builtin_rule(DEFAULT_COUNTRY, home_country=home),
            "partners": orgs.list_orgs(session, kind=OrgKind.HOTLINE),
            "timeouts": list(PoliceTimeout),
            "format_wait": format_wait,
            "form": form,
            "message": message,
        },
        status_code=status_code,
    )


@router.get(ROUTING, response_class=HTMLResponse)
def routing_page(
    request: Request, viewer: OrgAdmin, session: Tx, state: State, country: str = ""
) -> HTMLResponse:
    """The rules; ``?country=DE`` fills the form with the rule in force for DE to edit it."""
    if country.strip():
        try:
            code = rules.normalize_country(country)
        except ValidationFailed as exc:
            form = FormState({"country": exc.message}, {"country": country})
            return _routing_page(request, viewer, session, state, form=form, status_code=422)
        rule = rules.get_rule(session, code, home_country=state.settings.home_country)
        values = _rule_values(rule) | {"country": code}
        return _routing_page(request, viewer, session, state, form=FormState(values=values))
    return _routing_page(request, viewer, session, state)


@router.post(ROUTING, response_model=None)
def set_rule(
    request: Request,
    viewer: OrgAdmin,
    session: Tx,
    state: State,
    country: Annotated[str, Form()] = "",
    police_first: Annotated[str | None, Form()] = None,
    police_wait: Annotated[str, Form()] = "",
    on_timeout: Annotated[str, Form()] = "",
    partner: Annotated[str, Form()] = "",
    forward_to_partner: Annotated[str | None, Form()] = None,
    list_url: Annotated[str | None, Form()] = None,
    notes: Annotated[str, Form()] = "",
) -> Response:
    # Checkboxes: present when ticked. The form always sends every field, so a rule set here
    # is wholly what the form shows.
    values: dict[str, Any] = {
        "country": country,
        "police_first": police_first is not None,
        "police_wait": police_wait,
        "on_timeout": on_timeout,
        "partner": partner,
        "forward_to_partner": forward_to_partner is not None,
        "list_url": list_url is not None,
        "notes": notes,
    }
    form = FormState(values=values)
    fields: dict[str, Any] = {
        "police_first": values["police_first"],
        "on_police_timeout": on_timeout,
        "forward_to_partner": values["forward_to_partner"],
        "list_url": values["list_url"],
        "notes": notes,
    }
    try:
        wait = runtime.parse_duration(police_wait)
        fields["police_wait_seconds"] = int(wait.total_seconds())
    except ValidationFailed as exc:
        form.errors["police_wait"] = exc.message
    try:
        fields["partner_org_id"] = uuid.UUID(partner) if partner.strip() else None
    except ValueError:
        form.errors["partner"] = "choose a partner hotline from the list"
    if not form.errors:
        try:
            with session.begin_nested():
                rules.set_rule(
                    session,
                    viewer.principal,
                    country,
                    now=state.clock.now(),
                    home_country=state.settings.home_country,
                    **fields,
                )
        except ValidationFailed as exc:
            rule_field = _field_of(exc, RULE_FORM_FIELDS, "partner_org_id")
            form.errors[RULE_FORM_FIELDS[rule_field]] = exc.message
    if form.errors:
        return _routing_page(request, viewer, session, state, form=form, status_code=422)
    return redirect(ROUTING)


@router.post(ROUTING + "/delete", response_model=None)
def delete_rule(
    request: Request,
    viewer: OrgAdmin,
    session: Tx,
    state: State,
    country: Annotated[str, Form()] = "",
) -> Response:
    try:
        with session.begin_nested():
            rules.delete_rule(session, viewer.principal, country, now=state.clock.now())
    except (ValidationFailed, NotFound) as exc:
        return _routing_page(
            request, viewer, session, state, message=exc.message, status_code=exc.status_code
        )
    return redirect(ROUTING)
