"""The admin pages: staff users, organizations and API keys, banks, routing rules, deadlines and
caps, background jobs.

Each page needs the permission its API needs: ``users:manage`` for users, ``orgs:manage`` for
the directory, its keys and the routing rules (as ``routing/api.py``), ``banks:write`` for
banks, ``jobs:manage`` to retry jobs. The deadlines and caps have no permission of their own;
``users:manage`` guards them because only administrators hold it. The index is open to anyone
holding one of these, and lists what they may use.

Every form carries the CSRF token (checked by ``page``). A refused form is shown again with the
error beside its field and what was typed; each change runs in a savepoint, so a change refused
halfway leaves nothing behind although the page is rendered in a committed transaction. Every
change is audited by the service that makes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth import service as auth
from takedown.auth.models import Role, User, UserSession
from takedown.auth.passwords import MIN_LENGTH
from takedown.auth.permissions import DEFAULT_KEY_SCOPES, KEY_SCOPES
from takedown.auth.principal import Permission, Principal
from takedown.clock import FrozenClock
from takedown.console import runtime, totp
from takedown.console.deps import PageForbidden, Viewer, page, redirect, view
from takedown.errors import Conflict, NotFound, TakedownError, ValidationFailed
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from takedown.matching import banks
from takedown.matching.models import BankRole
from takedown.orgs import service as orgs
from takedown.orgs.models import ApiKey, OrgKind
from takedown.routing import rules
from takedown.routing.explain import format_wait
from takedown.routing.models import DEFAULT_COUNTRY, PoliceTimeout
from takedown.routing.service import partner_org_name
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
ADMIN: Final = "/console/admin"
# What opens the index: any one of these.
ADMIN_PERMISSIONS: Final = (
    Permission.USERS_MANAGE,
    Permission.ORGS_MANAGE,
    Permission.BANKS_WRITE,
    Permission.JOBS_MANAGE,
)
ORGS_PAGE_SIZE: Final = 100
JOBS_PAGE_SIZE: Final = 100

# Every staff role reads cases; the index then checks for an admin permission itself.
Staff = Annotated[Viewer, Depends(page(Permission.CASES_READ))]
UserAdmin = Annotated[Viewer, Depends(page(Permission.USERS_MANAGE))]
OrgAdmin = Annotated[Viewer, Depends(page(Permission.ORGS_MANAGE))]
BankAdmin = Annotated[Viewer, Depends(page(Permission.BANKS_WRITE))]
JobReader = Annotated[Viewer, Depends(page(Permission.JOBS_READ))]
JobAdmin = Annotated[Viewer, Depends(page(Permission.JOBS_MANAGE))]
SettingsAdmin = UserAdmin


@dataclass
class FormState:
    """A form as shown again after it was refused: errors by field, and what was typed."""

    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    # 422 for a value refused, 409 for a conflict with what exists (a name taken).
    status_code: int = 422

    def refused(self, name: str, exc: TakedownError) -> None:
        self.errors[name] = exc.message
        self.status_code = exc.status_code


def _field_of(exc: TakedownError, fields: Iterable[str], default: str) -> str:
    """The form field an error is about: the ``field`` it carries (orgs' checks set it), else
    the field its message starts with (``"name: ..."``, ``"notes must be..."``), else
    ``default``."""
    known = set(fields)
    named = exc.extra.get("field")
    if isinstance(named, str) and named in known:
        return named
    first = exc.message.split(" ", 1)[0].rstrip(":")
    return first if first in known else default


# -- user administration ---------------------------------------------------------------------
# auth.service creates users but has nothing yet to change one; these are the console's, and
# belong beside create_user when the CLI or the API needs them too.


def _active_admins(session: Session, besides: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                User.role == Role.ADMIN, User.is_active.is_(True), User.id != besides
            )
        )
        or 0
    )


def _check_not_self_or_last_admin(
    session: Session, actor: Principal, user: User, what: str
) -> None:
    # An administrator who demotes or disables themselves, or the last administrator, locks
    # everybody out of this page; another administrator must do it.
    if actor.user_id == user.id:
        raise Conflict(f"you cannot {what} your own account; ask another administrator")
    if user.role is Role.ADMIN and user.is_active and _active_admins(session, user.id) == 0:
        raise Conflict(f"{user.username} is the last active administrator")


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def change_role(
    session: Session, actor: Principal, user: User, role: Role, *, now: datetime
) -> User:
    """Give ``user`` another role; it applies to their next request (sessions read it)."""
    if role is user.role:
        return user
    _check_not_self_or_last_admin(session, actor, user, "change the role of")
    before = user.role
    user.role = role
    session.flush()
    audit.record(
        session,
        actor,
        "user.role",
        "user",
        user.id,
        at=now,
        details={"before": before.value, "after": role.value},
    )
    return user


def set_active(
    session: Session, actor: Principal, user: User, active: bool, *, now: datetime
) -> User:
    """Deactivate (sign-in refused, sessions ended) or reactivate an account."""
    if active == user.is_active:
        return user
    if not active:
        _check_not_self_or_last_admin(session, actor, user, "deactivate")
        # Sessions are refused for an inactive user anyway; deleting them says so plainly.
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.is_active = active
    session.flush()
    action = "user.activate" if active else "user.deactivate"
    audit.record(session, actor, action, "user", user.id, at=now)
    return user


def retry_job(session: Session, actor: Principal, job_id: uuid.UUID, *, now: datetime) -> Job:
    """``jobs.service.retry_job``, audited (the API's retry is not; the console's is)."""
    # A frozen clock at the request's time, so the job's run_at and the audit record agree.
    job = jobs.retry_job(session, job_id, clock=FrozenClock(now))
    audit.record(session, actor, "job.retry", "job", job.id, at=now, details={"name": job.name})
    return job


# -- index -----------------------------------------------------------------------------------


@router.get(ADMIN, response_class=HTMLResponse)
def admin_index(request: Request, viewer: Staff) -> HTMLResponse:
    if not any(viewer.can(p) for p in ADMIN_PERMISSIONS):
        raise PageForbidden(viewer, f"Your role ({viewer.user.role.label}) cannot open this page.")
    return view(request, "console/admin_index.html", viewer, {})


# -- users -----------------------------------------------------------------------------------

USERS: Final = f"{ADMIN}/users"


def _users_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    users = session.scalars(select(User).order_by(User.username)).all()
    return view(
        request,
        "console/admin_users.html",
        viewer,
        {
            "users": users,
            "roles": list(Role),
            "form": form or FormState(values={"role": Role.ANALYST.value}),
            "message": message,
            "min_length": MIN_LENGTH,
            "enrolled": totp.is_enrolled,
        },
        status_code=status_code,
    )


@router.get(USERS, response_class=HTMLResponse)
def users_page(request: Request, viewer: UserAdmin, session: Tx) -> HTMLResponse:
    return _users_page(request, viewer, session)


@router.post(USERS, response_model=None)
def create_user(
    request: Request,
    viewer: UserAdmin,
    session: Tx,
    state: State,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    # The password is never echoed back into the form.
    form = FormState(values={"username": username, "display_name": display_name, "role": role})
    try:
        chosen = Role(role)
    except ValueError:
        form.errors["role"] = "choose a role"
    if len(password) < MIN_LENGTH:
        form.errors["password"] = f"a password needs at least {MIN_LENGTH} characters"
    if not username.strip():
        form.errors["username"] = "give a username"
    if not form.errors:
        try:
            with session.begin_nested():
                auth.create_user(
                    session,
                    viewer.principal,
                    username=username,
                    password=password,
                    role=chosen,
                    display_name=display_name.strip() or None,
                    now=state.clock.now(),
                )
        except (ValidationFailed, Conflict) as exc:
            # The password and role were checked above: what is left is the username.
            form.refused("username", exc)
    if form.errors:
        return _users_page(request, viewer, session, form=form, status_code=form.status_code)
    return redirect(USERS)


def _user_change(
    request: Request,
    viewer: Viewer,
    session: Session,
    change: Callable[[User], object],
    user_id: uuid.UUID,
) -> Response:
    """Run one change to a user; a refusal is shown on the users page."""
    try:
        with session.begin_nested():
            change(get_user(session, user_id))
    except TakedownError as exc:
        return _users_page(
            request, viewer, session, message=exc.message, status_code=exc.status_code
        )
    return redirect(USERS)


@router.post(USERS + "/{user_id}/role", response_model=None)
def change_user_role(
    user_id: uuid.UUID,
    request: Request,
    viewer: UserAdmin,
    session: Tx,
    state: State,
    role: Annotated[str, Form()] = "",
) -> Response:
    try:
        chosen = Role(role)
    except ValueError:
        return _users_page(
            request, viewer, session, message=f"unknown role {role!r}", status_code=422
        )
    now = state.clock.now()
    return _user_change(
        request,
        viewer,
        session,
        lambda user: change_role(session, viewer.principal, user, chosen, now=now),
        user_id,
    )


@router.post(USERS + "/{user_id}/active", response_model=None)
def set_user_active(
    user_id: uuid.UUID,
    request: Request,
    viewer: UserAdmin,
    session: Tx,
    state: State,
    active: Annotated[str, Form()] = "",
) -> Response:
    if active not in ("yes", "no"):
        return _users_page(request, viewer, session, message="say yes or no", status_code=422)
    now = state.clock.now()
    return _user_change(
        request,
        viewer,
        session,
        lambda user: set_active(session, viewer.principal, user, active == "yes", now=now),
        user_id,
    )


@router.post(USERS + "/{user_id}/reset-totp", response_model=None)
def reset_user_totp(
    user_id: uuid.UUID, request: Request, viewer: UserAdmin, session: Tx, state: State
) -> Response:
    now = state.clock.now()
    return _user_change(
        request,
        viewer,
        session,
        lambda user: totp.reset(session, viewer.principal, user, now=now),
        user_id,
    )


# -- organizations and API keys --------------------------------------------------------------

ORGS: Final = f"{ADMIN}/orgs"
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
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("no such API key")
    with session.begin_nested():
        orgs.revoke_key(session, viewer.principal, key_id, now=state.clock.now())
    return redirect(f"{ORGS}/{row.org_id}")


# -- banks -----------------------------------------------------------------------------------

BANKS: Final = f"{ADMIN}/banks"
BANK_FIELDS: Final = ("name", "role", "pdq_threshold", "description")


def _banks_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    state: State,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    defaults = {"role": BankRole.BLOCK_LIST.value, "pdq_threshold": state.settings.pdq_threshold}
    return view(
        request,
        "console/admin_banks.html",
        viewer,
        {
            "banks": banks.list_banks(session),
            "roles": list(BankRole),
            "form": form or FormState(values=defaults),
            "message": message,
        },
        status_code=status_code,
    )


@router.get(BANKS, response_class=HTMLResponse)
def banks_page(request: Request, viewer: BankAdmin, session: Tx, state: State) -> HTMLResponse:
    return _banks_page(request, viewer, session, state)


@router.post(BANKS, response_model=None)
def create_bank(
    request: Request,
    viewer: BankAdmin,
    session: Tx,
    state: State,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    pdq_threshold: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "name": name,
        "role": role,
        "pdq_threshold": pdq_threshold,
        "description": description,
    }
    form = FormState(values=values)
    try:
        chosen = BankRole(role)
    except ValueError:
        form.errors["role"] = "choose a role"
    threshold = state.settings.pdq_threshold
    if pdq_threshold.strip():
        try:
            threshold = int(pdq_threshold)
        except ValueError:
            form.errors["pdq_threshold"] = "a whole number from 0 to 128"
    if not form.errors:
        try:
            with session.begin_nested():
                banks.create_bank(
                    session,
                    viewer.principal,
                    name=name,
                    role=chosen,
                    pdq_threshold=threshold,
                    description=description.strip(),
                    now=state.clock.now(),
                )
        except (ValidationFailed, Conflict) as exc:
            # Threshold errors name PDQ; name errors (format, taken) are the rest.
            where = "pdq_threshold" if "threshold" in exc.message.lower() else "name"
            form.refused(_field_of(exc, BANK_FIELDS, where), exc)
    if form.errors:
        return _banks_page(request, viewer, session, state, form=form, status_code=form.status_code)
    return redirect(BANKS)


@router.post(BANKS + "/{name}/enabled", response_model=None)
def enable_bank(
    name: str,
    request: Request,
    viewer: BankAdmin,
    session: Tx,
    state: State,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    if enabled not in ("yes", "no"):
        return _banks_page(
            request, viewer, session, state, message="say yes or no", status_code=422
        )
    with session.begin_nested():
        bank = banks.get_bank(session, name)
        banks.update_bank(
            session, viewer.principal, bank, enabled=enabled == "yes", now=state.clock.now()
        )
    return redirect(BANKS)


# -- routing rules ---------------------------------------------------------------------------

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


# -- deadlines and caps ----------------------------------------------------------------------

SETTINGS: Final = f"{ADMIN}/settings"


def _settings_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    state: State,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return view(
        request,
        "console/admin_settings.html",
        viewer,
        {
            "rows": runtime.rows(session, state.settings),
            "form": form or FormState(),
            "message": message,
        },
        status_code=status_code,
    )


@router.get(SETTINGS, response_class=HTMLResponse)
def settings_page(
    request: Request, viewer: SettingsAdmin, session: Tx, state: State
) -> HTMLResponse:
    return _settings_page(request, viewer, session, state)


SHOWN_SUFFIX: Final = "__shown"


async def _settings_form(request: Request) -> dict[str, str]:
    """The settings the form changed (key → text as typed).

    The form carries, beside each field, the value it showed (``<key>__shown``); a field
    left as shown is not considered, so saving a page loaded before another administrator's
    change does not quietly put the old value back. Async, so the body is awaited here and
    the endpoint stays synchronous (Starlette keeps the form ``page`` parsed already).
    """
    submitted = await request.form()
    given: dict[str, str] = {}
    for editable in runtime.EDITABLE:
        value = submitted.get(editable.key)
        if isinstance(value, str) and value != submitted.get(editable.key + SHOWN_SUFFIX):
            given[editable.key] = value
    return given


@router.post(SETTINGS, response_model=None)
def save_settings(
    request: Request,
    viewer: SettingsAdmin,
    session: Tx,
    state: State,
    given: Annotated[dict[str, str], Depends(_settings_form)],
) -> Response:
    # Only values that differ from those in force are stored; one bad value saves nothing.
    # What was refused is shown again as typed; the other fields show the values in force.
    try:
        with session.begin_nested():
            runtime.update(session, viewer.principal, state.settings, given, now=state.clock.now())
    except runtime.SettingsRefused as exc:
        form = FormState(errors=exc.errors, values=given)
        return _settings_page(request, viewer, session, state, form=form, status_code=422)
    return redirect(SETTINGS)


@router.post(SETTINGS + "/reset", response_model=None)
def reset_setting(
    request: Request,
    viewer: SettingsAdmin,
    session: Tx,
    state: State,
    key: Annotated[str, Form()] = "",
) -> Response:
    try:
        with session.begin_nested():
            runtime.reset(session, viewer.principal, key, now=state.clock.now())
    except NotFound as exc:
        return _settings_page(request, viewer, session, state, message=exc.message, status_code=404)
    return redirect(SETTINGS)


# -- jobs ------------------------------------------------------------------------------------

JOBS: Final = f"{ADMIN}/jobs"


def _jobs_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    status: str = "",
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    chosen: JobStatus | None = None
    if status:
        try:
            chosen = JobStatus(status)
        except ValueError:
            message = f"unknown status {status!r}: showing every job"
    return view(
        request,
        "console/admin_jobs.html",
        viewer,
        {
            "jobs": jobs.list_jobs(session, status=chosen, limit=JOBS_PAGE_SIZE),
            "counts": jobs.queue_counts(session),
            "statuses": list(JobStatus),
            "status": chosen.value if chosen else "",
            "retryable": jobs.RETRYABLE,
            "message": message,
        },
        status_code=status_code,
    )


@router.get(JOBS, response_class=HTMLResponse)
def jobs_page(request: Request, viewer: JobReader, session: Tx, status: str = "") -> HTMLResponse:
    return _jobs_page(request, viewer, session, status=status)


@router.post(JOBS + "/{job_id}/retry", response_model=None)
def retry(
    job_id: uuid.UUID,
    request: Request,
    viewer: JobAdmin,
    session: Tx,
    state: State,
    status: Annotated[str, Form()] = "",
) -> Response:
    """Run a failed or dead job again now; back to the list as it was filtered."""
    try:
        with session.begin_nested():
            retry_job(session, viewer.principal, job_id, now=state.clock.now())
    except (Conflict, NotFound) as exc:
        return _jobs_page(
            request,
            viewer,
            session,
            status=status,
            message=exc.message,
            status_code=exc.status_code,
        )
    back = f"{JOBS}?status={status}" if status in {s.value for s in JobStatus} else JOBS
    return redirect(back)
