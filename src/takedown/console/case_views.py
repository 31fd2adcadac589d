"""The case page, and the previews and reveals of a case's unknown items.

Reveal and hide work with HTMX (the item's panel is swapped in place) and without JavaScript
(a plain form POST, answered with a redirect back to the case page, which shows the viewer's
open reveal). Image routes answer PNG bytes made in memory with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.auth.principal import Permission
from takedown.config import Settings
from takedown.console import casepage
from takedown.console.deps import Viewer, page, redirect, view
from takedown.errors import NotFound, TakedownError
from takedown.exposure import previews
from takedown.fetch.build import build_fetcher
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(page(Permission.CASES_READ))]
# Only people who assess see pixels: police read cases but never need to look at the items.
Assessor = Annotated[Viewer, Depends(page(Permission.CASES_ASSESS))]
RevealId = Annotated[uuid.UUID, Query(alias="r")]


def _settings(session: Tx, state: State) -> Settings:
    """The settings in force: an administrator may have changed the exposure caps."""
    return runtime.effective(session, state.settings)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _png(data: bytes) -> Response:
    return Response(data, media_type=previews.MEDIA_TYPE, headers=previews.NO_STORE)


def _case_path(case_id: uuid.UUID, item_id: uuid.UUID) -> str:
    return f"/console/cases/{case_id}#item-{item_id}"


def _refused(request: Request, viewer: Viewer, exc: TakedownError) -> HTMLResponse:
    return view(
        request, "console/error.html", viewer, {"message": exc.message}, status_code=exc.status_code
    )


def _panel(
    request: Request, viewer: Viewer, settings: Settings, shown: previews.ItemPanel, **extra: Any
) -> HTMLResponse:
    # ``focus``: the swapped panel takes the keyboard focus where the pressed button was.
    context = {"iv": shown.view, "exposure": shown.exposure, "settings": settings, "focus": True}
    return view(request, "console/item.html", viewer, context | extra)


@router.get("/console/cases/{case_id}", response_class=HTMLResponse)
def case_detail(
    case_id: uuid.UUID, request: Request, viewer: Reader, session: Tx, state: State
) -> HTMLResponse:
    settings = _settings(session, state)
    try:
        shown = casepage.case_page(
            session, case_id, viewer.principal, settings=settings, now=state.clock.now()
        )
    except NotFound as exc:
        return _refused(request, viewer, exc)
    # The page carries the assessment form's context too (``shown.assess``): one load.
    context = {"page": shown, "exposure": shown.exposure, "settings": settings}
    return view(request, "console/case.html", viewer, context)


@router.get("/console/items/{item_id}/preview")
def item_preview(item_id: uuid.UUID, viewer: Assessor, session: Tx, state: State) -> Response:
    """The blurred (and, by preference, grey) preview of an unknown item."""
    settings = _settings(session, state)
    wanted = previews.plan_preview(session, item_id, viewer.user)
    return _fetched(session, wanted, settings)


@router.get("/console/items/{item_id}/sharp")
def item_sharp(
    item_id: uuid.UUID, reveal_id: RevealId, viewer: Assessor, session: Tx, state: State
) -> Response:
    """The item unblurred: only for the owner of an open reveal."""
    settings = _settings(session, state)
    wanted = previews.plan_sharp(
        session, item_id, reveal_id, viewer.principal, settings=settings, now=state.clock.now()
    )
    return _fetched(session, wanted, settings)


def _fetched(session: Session, wanted: previews.Wanted, settings: Settings) -> Response:
    # End the request's transaction before the fetch: a slow host may take the fetcher's whole
    # timeout, and must not hold SQLite's write lock (or a pooled connection) meanwhile.
    session.commit()
    return _png(previews.render(wanted, fetcher=build_fetcher(settings), settings=settings))


@router.post("/console/items/{item_id}/reveal", response_model=None)
def item_reveal(
    item_id: uuid.UUID, request: Request, viewer: Assessor, session: Tx, state: State
) -> Response:
    settings, now = _settings(session, state), state.clock.now()
    try:
        done = previews.reveal(session, item_id, viewer.principal, settings=settings, now=now)
    except TakedownError as exc:
        if not _htmx(request) or isinstance(exc, NotFound):
            return _refused(request, viewer, exc)
        # htmx does not swap a 4xx answer, so the refusal comes as the panel itself with the
        # reason in it. Nothing was revealed either way.
        shown = previews.panel(session, item_id, viewer.principal, settings=settings, now=now)
        return _panel(request, viewer, settings, shown, message=exc.message)
    if not _htmx(request):
        return redirect(_case_path(done.reveal.case_id, item_id))
    return _panel(request, viewer, settings, done.panel, hidden=done.hidden)


@router.post("/console/items/{item_id}/hide", response_model=None)
def item_hide(
    item_id: uuid.UUID,
    reveal_id: RevealId,
    request: Request,
    viewer: Assessor,
    session: Tx,
    state: State,
) -> Response:
    settings = _settings(session, state)
    try:
        shown = previews.hide(
            session, item_id, reveal_id, viewer.principal, settings=settings, now=state.clock.now()
        )
    except TakedownError as exc:
        return _refused(request, viewer, exc)
    if not _htmx(request):
        return redirect(_case_path(shown.view.item.case_id, item_id))
    return _panel(request, viewer, settings, shown)
