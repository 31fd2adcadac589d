"""Hash banks: create them, enable and disable them."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown.console.admin.common import ADMIN, BankAdmin, FormState, _field_of
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import Conflict, ValidationFailed
from takedown.matching import banks
from takedown.matching.models import BankRole
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
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
