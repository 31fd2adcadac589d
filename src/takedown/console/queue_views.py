"""The assessment queue, "Next case", and the assessment form's POST.

Thin: parse, call one service (``assessment.queue`` / ``assessment.service``), render. A POST
that fails is answered with the reason and changes nothing: the service runs in a savepoint,
and the request's transaction commits only what happened before it (the session check).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.assessment import queue
from takedown.assessment import service as assessment
from takedown.assessment.classification import SCHEMES, FormErrors, parse_form
from takedown.auth.principal import Permission
from takedown.cases import service as cases
from takedown.cases.models import Priority
from takedown.config import Settings
from takedown.console import assessform
from takedown.console.deps import Viewer, page, redirect, view
from takedown.errors import NotFound, TakedownError
from takedown.intake.models import ReporterSource
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Assessor = Annotated[Viewer, Depends(page(Permission.CASES_ASSESS))]
QUEUE: Final = "/console/queue"


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields (parsed once per request; ``deps.csrf_form`` read it)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


Form = Annotated[dict[str, str], Depends(form_fields)]


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# -- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The line shown after a POST sent the browser back here."""

    message: str
    css: str
    case_id: uuid.UUID | None


DONE: Final = {
    "confirmed": ("Case confirmed: tracing starts now.", "ok"),
    "not_illegal": ("Case assessed not illegal.", "ok"),
    "items": ("Assessment recorded; the case still has unknown items to assess.", "ok"),
    "second_opinion": (
        "Flagged for a second opinion: the case stays in the queue for someone else.",
        "ok",
    ),
    "approval": (
        "Your decision waits for a second person (four eyes): nothing changes until someone "
        "approves it under Four eyes.",
        "warn",
    ),
    "duplicate": ("This assessment was recorded already (the form was sent twice).", "warn"),
    "empty": ("No case is waiting for you.", "ok"),
}


def _done(params: Mapping[str, str]) -> Done | None:
    # Only known codes and a well-formed id: the message text never comes from the URL.
    found = DONE.get(params.get("done", ""))
    if found is None:
        return None
    try:
        case_id: uuid.UUID | None = uuid.UUID(params.get("case", ""))
    except ValueError:
        case_id = None
    return Done(found[0], found[1], case_id)


def _done_path(outcome: assessment.Outcome) -> str:
    return f"{QUEUE}?done={outcome.kind}&case={outcome.case_id}"


@router.get("/console/queue", response_class=HTMLResponse)
def queue_page(request: Request, viewer: Assessor, session: Tx, state: State) -> HTMLResponse:
    params = dict(request.query_params)
    context: dict[str, Any] = {
        "priorities": list(Priority),
        "sources": list(ReporterSource),
        "values": params,
        "done": _done(params),
        "errors": {},
        "rows": [],
        "total": 0,
        "claim_minutes": int(queue.CLAIM_TTL.total_seconds() // 60),
    }
    try:
        filters = queue.parse_filters(params)
    except FormErrors as exc:
        return view(
            request, "console/queue.html", viewer, context | {"errors": exc.errors}, status_code=422
        )
    rows, total = queue.list_queue(session, viewer.principal, filters, now=state.clock.now())
    context |= {"rows": rows, "total": total, "filtered": bool(filters.as_params())}
    return view(request, "console/queue.html", viewer, context)


@router.post("/console/queue/next")
def next_case(viewer: Assessor, session: Tx, state: State) -> RedirectResponse:
    """Assign the most urgent free case to the viewer and open it.

    Filters do not apply: Next always takes the most urgent case, so a filter left on never
    leaves urgent work behind.
    """
    case = queue.take_next(session, viewer.principal, now=state.clock.now())
    if case is None:
        return redirect(f"{QUEUE}?done=empty")
    return redirect(f"/console/cases/{case.id}")


# -- the assessment form ------------------------------------------------------------------


def _form_context(
    session: Session, viewer: Viewer, case_id: uuid.UUID, **sent_back: Any
) -> dict[str, Any]:
    """``assess`` for the form's template; ``sent_back``: a refused form's values, errors and
    form id (see ``assessform.assess_form``)."""
    case = cases.get_case(session, case_id)
    items = cases.items(session, case.id)
    return {"assess": assessform.assess_form(session, viewer.principal, case, items, **sent_back)}


@router.get("/console/cases/{case_id}/assess", response_class=HTMLResponse)
def assess_form(
    case_id: uuid.UUID, request: Request, viewer: Assessor, session: Tx, state: State
) -> HTMLResponse:
    """The form alone, as the case page shows it (a fresh one-time form id each time)."""
    try:
        context = _form_context(session, viewer, case_id)
    except NotFound as exc:
        return _error(request, viewer, exc.message, 404)
    settings = runtime.effective(session, state.settings)
    return view(request, "console/assess_form.html", viewer, context | {"settings": settings})


def _error(request: Request, viewer: Viewer, message: str, status: int) -> HTMLResponse:
    return view(request, "console/error.html", viewer, {"message": message}, status_code=status)


@router.post("/console/cases/{case_id}/assess", response_model=None)
def assess_case(
    case_id: uuid.UUID,
    request: Request,
    viewer: Assessor,
    session: Tx,
    state: State,
    form: Form,
) -> Response:
    settings = runtime.effective(session, state.settings)
    try:
        # A savepoint: whatever the service wrote before a refusal is undone with it.
        with session.begin_nested():
            parsed = parse_form(
                form,
                may_bank=viewer.can(Permission.BANKS_WRITE),
                may_list_host=viewer.can(Permission.LISTS_WRITE),
            )
            outcome = assessment.assess(
                session, case_id, parsed, viewer.principal, settings=settings, now=state.clock.now()
            )
    except FormErrors as exc:
        return _refused(request, viewer, session, settings, case_id, form, exc.errors, 422)
    except NotFound as exc:
        return _error(request, viewer, exc.message, 404)
    except TakedownError as exc:
        errors = {"form": exc.message}
        return _refused(request, viewer, session, settings, case_id, form, errors, exc.status_code)
    target = _done_path(outcome)
    if _htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return redirect(target)


def _refused(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: Settings,
    case_id: uuid.UUID,
    form: Mapping[str, str],
    errors: dict[str, str],
    status: int,
) -> HTMLResponse:
    """The form again with the errors beside the fields (HTMX), or a page listing them.

    htmx 2 does not swap a 4xx answer into the page, so the HTMX answer is a 200 carrying the
    form with its errors; a plain POST gets the 4xx status and a page that links back.
    """
    if not _htmx(request):
        labels = {s.field: s.label for s in SCHEMES} | {
            "form": "Form",
            "decision": "Decision",
            "scope": "Applies to",
            "note": "Reason",
            "bank": "Bank",
            "list_host": "Whole host",
        }
        listed = [(labels.get(k, k), v) for k, v in errors.items()]
        context = {"case_id": case_id, "errors": listed}
        return view(request, "console/assess_error.html", viewer, context, status_code=status)
    # The same form id: the refusal was rolled back, so nothing was recorded under it.
    context = _form_context(
        session, viewer, case_id, errors=errors, values=dict(form), form_id=form.get("form_id", "")
    ) | {"settings": settings}
    return view(request, "console/assess_form.html", viewer, context)
