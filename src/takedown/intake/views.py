"""The public report form: no login, nothing about the reporter stored."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from takedown.auth.principal import PUBLIC
from takedown.errors import InvalidURL, RateLimited
from takedown.intake import service
from takedown.intake.models import ContentKind, SiteKind
from takedown.intake.schemas import ReportIn
from takedown.web.deps import State, Tx, client_address
from takedown.web.templating import render

router = APIRouter(include_in_schema=False)
_REFERENCE = re.compile(r"^R-[0-9A-Z]{5}-[0-9A-Z]{5}$")


def _form(
    request: Request,
    state: State,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "report_form.html",
        {
            "settings": state.settings,
            "content_kinds": [k for k in ContentKind if k != ContentKind.UNKNOWN],
            "site_kinds": [k for k in SiteKind if k != SiteKind.UNKNOWN],
            "error": error,
            "values": values or {},
        },
        status_code=status,
    )


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, state: State) -> HTMLResponse:
    return _form(request, state)


@router.post("/report", response_model=None)
def report_submit(
    request: Request,
    state: State,
    session: Tx,
    url: Annotated[str, Form()] = "",
    content_kind: Annotated[str, Form()] = "unknown",
    site_kind: Annotated[str, Form()] = "unknown",
    immediate_danger: Annotated[str | None, Form()] = None,
    description: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "url": url,
        "content_kind": content_kind,
        "site_kind": site_kind,
        "description": description,
    }
    try:
        state.public_limiter.hit(client_address(request))
        report = ReportIn(
            url=url,
            content_kind=content_kind or "unknown",
            site_kind=site_kind or "unknown",
            immediate_danger=immediate_danger is not None,
            description=description.strip() or None,
        )
        result = service.submit_one(session, state.settings, PUBLIC, report, now=state.clock.now())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return _form(request, state, error=f"{field}: {first['msg']}", values=values, status=400)
    except InvalidURL as exc:
        return _form(request, state, error=exc.message, values=values, status=400)
    except RateLimited as exc:
        page = _form(request, state, error=exc.message, values=values, status=429)
        # Like the API's 429: a browser or a client script learns when to try again.
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    # Post/redirect/get: reloading the thank-you page does not send the report again.
    return RedirectResponse(f"/report/thanks?reference={result.reference}", status_code=303)


@router.get("/report/thanks", response_class=HTMLResponse)
def report_thanks(request: Request, state: State, reference: str = "") -> HTMLResponse:
    shown = reference if _REFERENCE.match(reference) else None
    return render(request, "report_thanks.html", {"settings": state.settings, "reference": shown})
