"""Four eyes: what waits for a second person, and their approve / reject.

Thin: every POST calls one service of ``assessment.approvals`` inside a savepoint, so a refusal
(your own request, a case that moved on) leaves nothing behind, and answers with this page
and the reason, or a redirect back to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.assessment import approvals
from takedown.assessment.classification import FormErrors
from takedown.auth.principal import Permission
from takedown.console.deps import Viewer, page, redirect, view
from takedown.console.queue_views import Form
from takedown.errors import TakedownError
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Assessor = Annotated[Viewer, Depends(page(Permission.CASES_ASSESS))]
# Being the second person on a whole host is a list change (the lists API asks the same).
ListWriter = Annotated[Viewer, Depends(page(Permission.LISTS_WRITE))]
PAGE: Final = "/console/approvals"

DONE: Final = {
    "approved": "Approved: the decision is carried out.",
    "rejected": "Rejected: nothing was carried out; the case is back in the queue.",
    "host_approved": "Approved: the whole host goes out with the next URL list.",
    "host_rejected": "Rejected: the host entry is withdrawn and never goes out.",
}


def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    done: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "requests": approvals.pending(session),
        "hosts": approvals.pending_hosts(session) if viewer.can(Permission.LISTS_WRITE) else [],
        "decided": approvals.recent(session),
        "done": DONE.get(done or ""),
        "error": error,
    }
    return view(request, "console/approvals.html", viewer, context, status_code=status)


@router.get("/console/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, viewer: Assessor, session: Tx) -> HTMLResponse:
    return _page(request, viewer, session, done=request.query_params.get("done"))


def _decide(
    request: Request, viewer: Viewer, session: Session, act: Callable[[], object], done: str
) -> Response:
    try:
        with session.begin_nested():
            act()
    except FormErrors as exc:
        message = " ".join(exc.errors.values())
        return _page(request, viewer, session, error=message, status=422)
    except TakedownError as exc:
        return _page(request, viewer, session, error=exc.message, status=exc.status_code)
    return redirect(f"{PAGE}?done={done}")


@router.post("/console/approvals/{approval_id}/approve", response_model=None)
def approve(
    approval_id: uuid.UUID,
    request: Request,
    viewer: Assessor,
    session: Tx,
    state: State,
    form: Form,
) -> Response:
    settings = runtime.effective(session, state.settings)
    return _decide(
        request,
        viewer,
        session,
        lambda: approvals.approve(
            session,
            approval_id,
            viewer.principal,
            note=form.get("note", ""),
            settings=settings,
            now=state.clock.now(),
        ),
        "approved",
    )


@router.post("/console/approvals/{approval_id}/reject", response_model=None)
def reject(
    approval_id: uuid.UUID,
    request: Request,
    viewer: Assessor,
    session: Tx,
    state: State,
    form: Form,
) -> Response:
    return _decide(
        request,
        viewer,
        session,
        lambda: approvals.reject(
            session, approval_id, viewer.principal, note=form.get("note", ""), now=state.clock.now()
        ),
        "rejected",
    )


@router.post("/console/approvals/hosts/{entry_id}/approve", response_model=None)
def approve_host(
    entry_id: uuid.UUID, request: Request, viewer: ListWriter, session: Tx, state: State
) -> Response:
    return _decide(
        request,
        viewer,
        session,
        lambda: approvals.approve_host(session, entry_id, viewer.principal, now=state.clock.now()),
        "host_approved",
    )


@router.post("/console/approvals/hosts/{entry_id}/reject", response_model=None)
def reject_host(
    entry_id: uuid.UUID,
    request: Request,
    viewer: ListWriter,
    session: Tx,
    state: State,
    form: Form,
) -> Response:
    return _decide(
        request,
        viewer,
        session,
        lambda: approvals.reject_host(
            session, entry_id, viewer.principal, note=form.get("note", ""), now=state.clock.now()
        ),
        "host_rejected",
    )
