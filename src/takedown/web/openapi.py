"""The error answers in the OpenAPI document: a Problem schema and, per operation, its 4xx/503.

FastAPI documents only an operation's success and a 422 with its own JSON shape, while every
error this API gives is ``application/problem+json`` (``web/problems.py``). Clients (and the
fuzz test, which checks every answer against the document) need the truth, so the document is
completed here in one place, from what each route is made of:

- every operation: 422 (the control-character guard reads every query string) and 503
  (admission control and a database that is away answer before any route runs);
- parameters or a body: 400 (input a service refuses, e.g. an invalid URL);
- a request body: 413 (too large) and 415 (not the media type asked for);
- path parameters: 404 (the thing named does not exist);
- the caller dependency (``web.deps.principal``): 401 (a bad key or session), 403 (a wrong
  CSRF token or scope), 429 (a key's rate limit);
- a permission (``web.deps.require``): 401 (no credentials) and 403 (not allowed), and on a
  change (POST, PUT, PATCH, DELETE) 409: the state of what it changes may not allow it;
- the answers a route gives for other reasons (a failed sign-in, a bank named in the body
  that does not exist) are listed per operation in ``EXTRA`` below; the fuzz test fails on
  any answer the document does not list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from takedown.web import deps

MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 describes it. The detail says what was wrong.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "Always about:blank."},
        "title": {"type": "string", "description": "The status's short name."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What was wrong, for people."},
        "errors": {
            "type": "array",
            "description": "Validation failures (422): one per field, located by `loc`.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
        "retry_after": {"type": "integer", "description": "Seconds to wait (429)."},
    },
    "additionalProperties": True,
}

# Answers a route gives for its own reasons, beyond what its dependencies tell:
# (method, path) -> statuses. Kept honest by tests/test_fuzz.py, which checks every status
# the API answers against the document.
EXTRA: dict[tuple[str, str], frozenset[int]] = {
    # Wrong name, password or code; sign-in attempts are rate limited per address and user.
    ("POST", "/api/v1/auth/login"): frozenset({401, 429}),
    # The banks to match against are named in the query or the body.
    ("POST", "/api/v1/match"): frozenset({404}),
    ("GET", "/m/lookup"): frozenset({404}),
    ("POST", "/m/lookup"): frozenset({404}),
    ("GET", "/m/raw_lookup"): frozenset({404}),
}
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install(app: FastAPI) -> None:
    """Complete ``app``'s OpenAPI document with its error answers whenever it is built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the document and builds a new one when routes change; completing
        # the one it returns is idempotent, so it is done on every call.
        schema = build()
        document_errors(schema, app.routes)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(schema: dict[str, Any], routes: Iterable[Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own 422 shape is never sent: ours is a Problem.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    operations = schema.get("paths", {})
    for route in _api_routes(routes):
        for method in route.methods or ():
            operation = operations.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            statuses = errors_of(route, method, operation)
            statuses |= EXTRA.get((method, route.path_format), frozenset())
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses[str(status)] = _problem_response(status)
            operation["responses"] = dict(sorted(responses.items()))


def errors_of(route: Any, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses ``route`` can answer, from its dependencies and parameters."""
    statuses = {422, 503}
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add(400)
    if "requestBody" in operation:
        statuses |= {413, 415}
    if route.dependant.path_params:
        statuses.add(404)
    calls = set(_calls(route.dependant))
    if deps.principal in calls:
        statuses |= {401, 403, 429}
    if any(_is_permission_check(call) for call in calls):
        statuses |= {401, 403}
        if method in _CHANGES:
            statuses.add(409)
    return statuses


def _api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    for context in routing.iter_route_contexts(list(routes)):
        if isinstance(context.original_route, routing.APIRoute) and context.include_in_schema:
            yield context


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _is_permission_check(call: Callable[..., Any]) -> bool:
    return getattr(call, "__qualname__", "").startswith(deps.require.__qualname__ + ".")


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
