"""Organizations and their API keys."""

from __future__ import annotations

import uuid
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown.auth.permissions import DEFAULT_KEY_SCOPES, KEY_SCOPES
from takedown.console.admin.common import ADMIN, FormState, OrgAdmin, _field_of
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import Conflict, ValidationFailed
from takedown.orgs import service as orgs
from takedown.orgs.models import OrgKind
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
ORGS: Final = f"{ADMIN}/orgs"
ORGS_PAGE_SIZE: Final = 100
ORG_FIELDS: Final = ("name", "kind", "country", "abuse_email")


def _orgs_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    q: str = "",
    form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found, total = orgs.search_orgs(session, q=q.strip() or None, limit=ORGS_PAGE_SIZE)
    return view(
        request,
        "console/admin_orgs.html",
        viewer,
        {
            "orgs": found,
            "total": total,
            "q": q,
            "kinds": list(OrgKind),
            "form": form or FormState(),
        },
        status_code=status_code,
    )


@router.get(ORGS, response_class=HTMLResponse)
def orgs_page(request: Request, viewer: OrgAdmin, session: Tx, q: str = "") -> HTMLResponse:
    return _orgs_page(request, viewer, session, q=q)


@router.post(ORGS, response_model=None)
def add_org(
    request: Request,
    viewer: OrgAdmin,
    session: Tx,
    state: State,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    country: Annotated[str, Form()] = "",
    abuse_email: Annotated[str, Form()] = "",
) -> Response:
    values = {"name": name, "kind": kind, "country": country, "abuse_email": abuse_email}
    try:
        with session.begin_nested():
            org = orgs.add_org(
                session,
                viewer.principal,
                name=name,
                kind=kind,
                country=country,
                abuse_email=abuse_email.strip() or None,
                now=state.clock.now(),
            )
    except (ValidationFailed, Conflict) as exc:
        form = FormState({_field_of(exc, ORG_FIELDS, "name"): exc.message}, values)
        return _orgs_page(request, viewer, session, form=form, status_code=exc.status_code)
    return redirect(f"{ORGS}/{org.id}")


def _org_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    org_id: uuid.UUID,
    *,
    form: FormState | None = None,
    new_key: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    org = orgs.get_org(session, org_id)
    default = FormState(values={"scopes": sorted(DEFAULT_KEY_SCOPES)})
    return view(
        request,
        "console/admin_org.html",
        viewer,
        {
            "org": org,
            "keys": orgs.list_keys(session, org),
            "scopes": sorted(KEY_SCOPES),
            "form": form or default,
            "new_key": new_key,
            "message": message,
        },
        status_code=status_code,
    )


@router.get(ORGS + "/{org_id}", response_class=HTMLResponse)
def org_page(org_id: uuid.UUID, request: Request, viewer: OrgAdmin, session: Tx) -> HTMLResponse:
    return _org_page(request, viewer, session, org_id)


@router.post(ORGS + "/{org_id}/keys", response_model=None)
def create_key(
    org_id: uuid.UUID,
    request: Request,
    viewer: OrgAdmin,
    session: Tx,
    state: State,
    label: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = scopes or []
    form = FormState(values={"label": label, "scopes": chosen})
    if not chosen:
        form.errors["scopes"] = "choose at least one scope"
    elif len(label.strip()) > 200:
        form.errors["label"] = "a label has at most 200 characters"
    if form.errors:
        return _org_page(request, viewer, session, org_id, form=form, status_code=422)
    try:
        with session.begin_nested():
            org = orgs.get_org(session, org_id)
            key, _ = orgs.create_key(
                session,
                viewer.principal,
                org,
                label=label.strip(),
                scopes=chosen,
                now=state.clock.now(),
            )
    except ValidationFailed as exc:
        form.errors["scopes"] = exc.message
        return _org_page(request, viewer, session, org_id, form=form, status_code=422)
    # Not post/redirect/get: the clear key exists only in this response (only its hash is
    # stored), so it is shown here once and never again.
    return _org_page(request, viewer, session, org_id, new_key=key)


@router.post(ADMIN + "/keys/{key_id}/revoke", response_model=None)
def revoke_key(
    key_id: uuid.UUID, request: Request, viewer: OrgAdmin, session: Tx, state: State
) -> Response:
    with session.begin_nested():
        row = orgs.revoke_key(session, viewer.principal, key_id, now=state.clock.now())
    return redirect(f"{ORGS}/{row.org_id}")
