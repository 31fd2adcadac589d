"""Control characters in a request's path, query string or HTML form: refused in one place.

JSON bodies are checked field by field by their schemas (``takedown.textfields``), which can
name the field and fail one item of a bulk request alone. What arrives outside a JSON body is
checked here, before any route sees it, so no page, API route or console form can forget:

- the path and every query parameter (names and values): no control character at all;
- every field of an ``application/x-www-form-urlencoded`` body: the free-text rule (tab, CR
  and LF allowed, as a textarea sends them), since the guard cannot tell a name from a note.
  The routes and schemas that take a field apply the single-line rule where it is one.

Multipart bodies are streamed, never read here: ``matching.uploads`` applies the free-text
rule to their text parts. A few public pages that show the same page whatever their address
holds are let through (below).

A refusal is a 422 problem document naming the parameter, like any validation error.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from takedown.textfields import forbidden_character, refusal

MEDIA_TYPE = "application/problem+json"
_FORM = b"application/x-www-form-urlencoded"
# Public pages that answer the same page whatever their address holds, by design:
# network providers send blocked requests to the block page with the blocked address
# appended (lists/views.py never reads it), and a notice's answer link with any token that
# is not one gets the same "unknown link" page (notices/views.py checks its shape first).
_QUERY_UNREAD = frozenset({"/blocked"})
_PATH_CHECKED = ("/notices/answer/",)


def _problem(location: str, message: str, status: int = 422) -> tuple[int, bytes]:
    title = "Validation failed" if status == 422 else "Payload too large"
    detail = f"{location}: {message}" if location else message
    body: dict[str, object] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if status == 422:
        body["errors"] = [{"loc": location.split("."), "msg": message, "type": "control_character"}]
    return status, json.dumps(body).encode()


def _first_refused(pairs: list[tuple[str, str]], where: str, *, multiline: bool) -> str | None:
    for name, value in pairs:
        for text in (name, value):
            character = forbidden_character(text, multiline=multiline)
            if character is not None:
                shown = name if forbidden_character(name, multiline=False) is None else "?"
                return f"{where}.{shown}: {refusal(character, multiline=multiline)}"
    return None


def check_url(path: str, query_string: bytes) -> str | None:
    """Why the path or query string is refused (``location: message``), or None."""
    character = forbidden_character(path, multiline=False)
    if character is not None and not path.startswith(_PATH_CHECKED):
        return f"path: {refusal(character, multiline=False)}"
    if path in _QUERY_UNREAD:
        return None
    return _first_refused(_pairs(query_string), "query", multiline=False)


def check_form(body: bytes) -> str | None:
    """Why an urlencoded form body is refused (``location: message``), or None."""
    return _first_refused(_pairs(body), "form", multiline=True)


def _pairs(encoded: bytes) -> list[tuple[str, str]]:
    # Decoded as Starlette decodes them for the routes: percent escapes as UTF-8 (bad bytes
    # become U+FFFD, which is harmless), anything else as latin-1.
    return parse_qsl(encoded.decode("latin-1"), keep_blank_values=True)


class ControlCharacterGuard:
    """ASGI middleware applying ``check_url`` and ``check_form`` to every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = check_url(scope["path"], scope.get("query_string", b""))
        if reason is not None:
            await _refuse(send, *_split(reason))
            return
        media = _content_type(scope)
        if media != _FORM:
            await self.app(scope, receive, send)
            return
        # A form is small (the body limit applies before this): read it whole, check it,
        # then hand the same bytes to the app.
        try:
            messages, body = await _read_all(receive)
        except HTTPException as exc:  # the body limit, counting a body without a length
            await _refuse(send, "", str(exc.detail), status=exc.status_code)
            return
        reason = check_form(body)
        if reason is not None:
            await _refuse(send, *_split(reason))
            return
        await self.app(scope, _replay(messages, receive), send)


def _split(reason: str) -> tuple[str, str]:
    location, _, message = reason.partition(": ")
    return location, message


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";")[0].strip().lower()
            return media
    return b""


async def _read_all(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _refuse(send: Send, location: str, message: str, *, status: int = 422) -> None:
    code, body = _problem(location, message, status)
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
