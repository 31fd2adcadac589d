"""The answer page of a notice: the provider answers without an account, through its link.

The link's token is the only credential, and it is in the URL: these pages are never cached
(``Cache-Control: no-store``) and never send a Referer (``Referrer-Policy: no-referrer``), so
the token does not end up in a shared cache or another site's logs. An unknown and an
expired link get the same page, which tells nothing about any notice.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.cases import service as cases
from takedown.errors import NotFound, RateLimited, ValidationFailed
from takedown.notices import answers
from takedown.notices import service as notices
from takedown.notices.models import AnswerKind, Notice
from takedown.web.deps import AppState, State, Tx, client_address
from takedown.web.templating import render

public_router = APIRouter(include_in_schema=False)
# notice_token() is 43 characters of URL-safe base64; anything else is not worth a query.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

CHOICES = {
    AnswerKind.ACKNOWLEDGED: "We have received this notice and are looking into it.",
    AnswerKind.REMOVED: "We have removed the content or disabled access to it.",
    AnswerKind.CANNOT_ACT: "We cannot act on it (please say why).",
    AnswerKind.DISPUTE: "We dispute this notice (please say why).",
}


def _private(response: Response) -> Response:
    response.headers.update(_PRIVATE)
    return response


def _limit(request: Request, state: AppState) -> str | None:
    """Count the request against the public limit; the message if it is over."""
    try:
        state.public_limiter.hit(client_address(request))
    except RateLimited as exc:
        return exc.message
    return None


def _unknown(request: Request, state: AppState, *, busy: str | None = None) -> Response:
    return _private(
        render(
            request,
            "notice_link_unknown.html",
            {"settings": state.settings, "busy": busy},
            status_code=429 if busy else 404,
        )
    )


def _notice(session: Tx, state: AppState, token: str) -> Notice | None:
    if not _TOKEN.match(token):
        return None
    try:
        return notices.by_token(session, token, state.clock.now())
    except NotFound:
        return None


def _page(
    request: Request,
    session: Tx,
    state: AppState,
    notice: Notice,
    token: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    view = answers.notice_view(session, notice, state.settings)
    case = cases.get_case(session, notice.case_id)
    context = {
        "settings": state.settings,
        "notice": notice,
        "content": view.content,
        "answers": view.answers,
        "choices": CHOICES,
        "token": token,
        "now": state.clock.now(),
        "values": values or {},
        "errors": errors or {},
        "max_reason": answers.MAX_REASON,
        # A closed case asks nothing more of the recipient: the page says so instead of
        # offering a form (an answer sent anyway is still kept, see answers.record_answer).
        "removed_at": case.removed_at,
        "closed_at": case.closed_at,
    }
    return _private(render(request, "notice_answer.html", context, status_code=status))


@public_router.get("/notices/answer/{token}", response_class=HTMLResponse)
def answer_page(request: Request, token: str, state: State, session: Tx) -> Response:
    busy = _limit(request, state)
    if busy:
        return _unknown(request, state, busy=busy)
    notice = _notice(session, state, token)
    if notice is None:
        return _unknown(request, state)
    return _page(request, session, state, notice, token)


@public_router.post("/notices/answer/{token}", response_model=None)
def answer_submit(
    request: Request,
    token: str,
    state: State,
    session: Tx,
    kind: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    busy = _limit(request, state)
    notice = _notice(session, state, token)
    if notice is None:
        return _unknown(request, state, busy=busy)
    values = {"kind": kind, "reason": reason}
    if busy:
        errors = {"form": busy}
        return _page(
            request, session, state, notice, token, values=values, errors=errors, status=429
        )
    try:
        answer_kind = AnswerKind(kind)
    except ValueError:
        errors = {"kind": "Choose one of the answers."}
        return _page(
            request, session, state, notice, token, values=values, errors=errors, status=422
        )
    try:
        answers.record_answer(
            session,
            notice,
            answer_kind,
            reason=reason,
            via="link",
            actor=answers.link_actor(notice),
            now=state.clock.now(),
        )
    except ValidationFailed as exc:
        errors = {"reason": exc.message.removeprefix("reason: ").capitalize() + "."}
        return _page(
            request, session, state, notice, token, values=values, errors=errors, status=422
        )
    # Post/redirect/get: reloading the thank-you page does not send the answer again.
    return _private(RedirectResponse(f"/notices/answer/{token}/thanks", status_code=303))


@public_router.get("/notices/answer/{token}/thanks", response_class=HTMLResponse)
def answer_thanks(request: Request, token: str, state: State, session: Tx) -> Response:
    busy = _limit(request, state)
    notice = _notice(session, state, token)
    if notice is None or busy:
        return _unknown(request, state, busy=busy)
    context = {"settings": state.settings, "notice": notice, "token": token}
    return _private(render(request, "notice_answered.html", context))
