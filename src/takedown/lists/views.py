"""Public pages of the URL list: the block (splash) page and the appeal form. No login.

``/blocked`` is where network providers send people whose request they blocked (a Squid
``deny_info`` redirect, a DNS sinkhole's web server). It is static: no database, no cookie,
nothing loaded from elsewhere, and it never echoes the query string, to which a proxy may
append the blocked address (``?url=...``): the page must not show, link or leak the address,
and a crafted link must not be able to put text or markup on it.

The appeal form keeps nothing about the person but what they type; every value is shown
back autoescaped. All these pages are ``no-store`` and send no Referer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.errors import RateLimited
from takedown.lists import appeals
from takedown.lists.models import AppealSubject
from takedown.web.deps import AppState, State, Tx, client_address
from takedown.web.templating import render

router = APIRouter(include_in_schema=False)
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
STOP_IT_NOW = ("https://www.stopitnow.org.uk/", "https://www.stopitnow.org/")
_SUBJECTS = frozenset(s.value for s in AppealSubject)


def _private(response: Response) -> Response:
    response.headers.update(_PRIVATE)
    return response


@router.get("/blocked", response_class=HTMLResponse)
def blocked(request: Request, state: State) -> Response:
    # Query parameters are deliberately not read: see the module docstring.
    context = {"settings": state.settings, "stop_it_now": STOP_IT_NOW}
    return _private(render(request, "blocked.html", context))


def _form(
    request: Request,
    state: AppState,
    subject: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    shown = subject if subject in _SUBJECTS else AppealSubject.BLOCKED_URL.value
    context = {
        "settings": state.settings,
        "subject": shown,
        "values": values or {},
        "errors": errors or {},
        "max_urls": appeals.MAX_URLS,
        "max_url": appeals.MAX_URL,
        "max_reasons": appeals.MAX_REASONS,
        "max_network": appeals.MAX_NETWORK,
        "max_seen_at": appeals.MAX_SEEN_AT,
        "max_contact": appeals.MAX_CONTACT,
    }
    return _private(render(request, "appeal.html", context, status_code=status))


@router.get("/appeal", response_class=HTMLResponse)
def appeal_form(request: Request, state: State, subject: str = "") -> Response:
    return _form(request, state, subject)


@router.post("/appeal", response_model=None)
def appeal_submit(
    request: Request,
    state: State,
    session: Tx,
    subject: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    network: Annotated[str, Form()] = "",
    seen_at: Annotated[str, Form()] = "",
    notice_reference: Annotated[str, Form()] = "",
    urls: Annotated[str, Form()] = "",
    contact: Annotated[str, Form()] = "",
    reasons: Annotated[str, Form()] = "",
) -> Response:
    form = appeals.AppealForm(
        subject=subject,
        url=url,
        network=network,
        seen_at=seen_at,
        notice_reference=notice_reference,
        urls=urls,
        contact=contact,
        reasons=reasons,
    )
    values = vars(form)
    try:
        state.public_limiter.hit(client_address(request))
        appeal = appeals.file_appeal(session, form, now=state.clock.now())
    except RateLimited as exc:
        return _form(
            request, state, subject, values=values, errors={"form": exc.message}, status=429
        )
    except appeals.AppealInvalid as exc:
        return _form(request, state, subject, values=values, errors=exc.errors, status=422)
    # Post/redirect/get: reloading the confirmation does not file the appeal again.
    return _private(RedirectResponse(f"/appeal/done?reference={appeal.reference}", 303))


@router.get("/appeal/done", response_class=HTMLResponse)
def appeal_done(request: Request, state: State, reference: str = "") -> Response:
    # Only a well-formed reference is shown: the link cannot carry text onto our page.
    shown = reference if appeals.REFERENCE_PATTERN.match(reference) else None
    context = {"settings": state.settings, "reference": shown}
    return _private(render(request, "appeal_done.html", context))
