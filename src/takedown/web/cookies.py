"""Every cookie the app sets: HttpOnly, SameSite=Strict, Path=/, and in production Secure and
``__Host-`` prefixed.

The prefix is the browser's promise that the cookie was set over https by this very host with
``Path=/`` and no ``Domain``: a sibling subdomain (or a man in the middle of a plain-http
request) cannot plant or overwrite a session or a sign-in cookie. Browsers enforce the rules
on every ``Set-Cookie`` of such a name, deletions included, so all cookies go through here.
Development serves plain http on 127.0.0.1, where a browser drops Secure cookies, so there the
names are bare and the flag is off (``Settings.secure_cookies``).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response

from takedown.config import Settings

HOST_PREFIX = "__Host-"


def cookie_name(settings: Settings, name: str) -> str:
    """The name ``name`` has on the wire under these settings."""
    return f"{HOST_PREFIX}{name}" if settings.secure_cookies else name


def read_cookie(request: Request, settings: Settings, name: str) -> str | None:
    return request.cookies.get(cookie_name(settings, name))


def set_cookie(
    response: Response, settings: Settings, name: str, value: str, ttl: timedelta
) -> None:
    response.set_cookie(
        cookie_name(settings, name),
        value,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
    )


def delete_cookie(response: Response, settings: Settings, name: str) -> None:
    # With the same attributes as when set: a browser ignores a __Host- deletion without them.
    response.delete_cookie(
        cookie_name(settings, name),
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
    )
