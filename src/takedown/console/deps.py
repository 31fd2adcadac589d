"""What every console page needs: the signed-in staff member, their role, CSRF on forms.

Pages are server-rendered (Jinja2, autoescaped) with a little HTMX. A page dependency
(``page(Permission.X)``) gives the ``Viewer``; a request without a valid session is sent to the
sign-in page, and a role without the permission gets a 403 page. Every state-changing request
(POST) must carry the session's CSRF token, as the form field ``csrf_token`` or, for HTMX, the
``X-CSRF-Token`` header that the layout sets on every HTMX request, and must not come from
another site's page (``Origin``, ``Sec-Fetch-Site``: see web/origin.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.auth import service as auth
from takedown.auth.models import User, UserSession
from takedown.auth.principal import Permission, Principal
from takedown.config import Settings
from takedown.errors import Unauthorized
from takedown.web.cookies import read_cookie
from takedown.web.deps import CSRF_HEADER, SESSION_COOKIE, State, Tx
from takedown.web.origin import cross_site_reason
from takedown.web.templating import render

CONSOLE = "/console"


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page (see ``install``)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageForbidden(Exception):
    """The signed-in role may not open the page: a 403 page (see ``install``)."""

    def __init__(self, message: str) -> None:
        self.message = message


class CsrfRefused(Exception):
    """A form without the session's CSRF token: refused, nothing changed."""


@dataclass(frozen=True)
class Viewer:
    """The staff member behind a console request."""

    user: User
    principal: Principal
    row: UserSession

    @property
    def csrf_token(self) -> str:
        return self.row.csrf_token

    def can(self, permission: Permission) -> bool:
        return self.principal.can(permission)


def _viewer(request: Request, session: Tx, state: State) -> Viewer:
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(path)
    try:
        user, row = auth.resolve_session(session, token, now=state.clock.now())
    except Unauthorized:
        raise LoginRequired(path) from None
    viewer = Viewer(user, auth.principal_for(user), row)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_origin(request, state.settings)
        given = request.headers.get(CSRF_HEADER) or getattr(request.state, "csrf_form_token", None)
        check_csrf(viewer.csrf_token, given)
    return viewer


def check_origin(request: Request, settings: Settings) -> None:
    """Refuse, with the console's 403 page, a POST that another site's page started."""
    reason = cross_site_reason(request, settings)
    if reason is not None:
        raise PageForbidden(f"The form was refused: {reason}.")


def check_csrf(expected: str, given: str | None) -> None:
    """Refuse a state change whose token is missing or wrong (compared in constant time)."""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused()


async def csrf_form(request: Request) -> None:
    """Read the form's ``csrf_token`` before the viewer is checked: a sync dependency cannot
    await the body, and FastAPI caches the parsed form for the route."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    media = request.headers.get("content-type", "")
    if media.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        request.state.csrf_form_token = value if isinstance(value, str) else None


def page(permission: Permission) -> Callable[..., Viewer]:
    """A dependency: the viewer, if their role holds ``permission``."""

    def check(
        request: Request,
        session: Tx,
        state: State,
        _form: Annotated[None, Depends(csrf_form)],
    ) -> Viewer:
        viewer = _viewer(request, session, state)
        if not viewer.can(permission):
            raise PageForbidden(f"Your role ({viewer.user.role.label}) cannot open this page.")
        return viewer

    return check


def view(
    request: Request,
    template: str,
    viewer: Viewer | None,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a console template with what the layout needs (viewer, CSRF token, settings)."""
    state = request.app.state.takedown
    base = {
        "viewer": viewer,
        "csrf_token": viewer.csrf_token if viewer else "",
        "settings": state.settings,
        "Permission": Permission,
        "path": request.url.path,
    }
    return render(request, template, base | context, status_code=status_code)


def redirect(path: str) -> RedirectResponse:
    """After a POST: 303 so the browser GETs the next page (no double submission on reload)."""
    return RedirectResponse(path, status_code=303)


def install(app: FastAPI) -> None:
    """Register the console's exception pages on the app."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            # An HTMX request cannot follow a redirect to a whole page: ask for a reload.
            return Response(status_code=401, headers={"HX-Redirect": f"{CONSOLE}/login"})
        return RedirectResponse(f"{CONSOLE}/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        # The request's transaction has ended here: render without the (detached) viewer.
        return view(request, "console/error.html", None, {"message": exc.message}, status_code=403)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return view(
            request,
            "console/error.html",
            None,
            {
                "message": "The form was refused: its security token is missing or out of date. "
                "Reload the page and try again."
            },
            status_code=403,
        )
