"""What requests carry besides text: bounded integers, and JSON read without crashing.

Every integer a request can carry (path, query or body) reaches the database sooner or later
as a bound parameter, and both databases store 64-bit integers at most: SQLite's driver
raises ``OverflowError`` and PostgreSQL ``bigint out of range`` for anything larger, which
would be a 500. So integer parameters use these types, which refuse out-of-range values with
a 422 naming the parameter (and document the bounds in the OpenAPI document):

``Offset``  how many rows to skip, or the id to continue after (0 up to 2^63 - 1);
``Id``      a row's integer id or a version number (0 up to 2^63 - 1).

Use them with ``Query``/``Path`` as usual: ``offset: Annotated[Offset, Query()] = 0``.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from starlette.requests import Request

from takedown.errors import BadRequest, ValidationFailed

INT64_MAX = 2**63 - 1

Offset = Annotated[int, Ge(0), Le(INT64_MAX)]
Id = Annotated[int, Ge(0), Le(INT64_MAX)]


async def read_json(request: Request) -> Any:
    """The request's JSON body; 422 when it is not JSON, 400 when it is nested too deeply.

    For routes that read their body themselves, answering as FastAPI's own body parsing
    does. ``json.loads`` recurses once per nesting level, so a body nested some thousands
    deep raises ``RecursionError``, which is no ``ValueError`` and was a 500.
    """
    try:
        return await request.json()
    except RecursionError as exc:
        raise BadRequest("the JSON body is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError and bad UTF-8 alike
        raise ValidationFailed(f"the body is not valid JSON: {exc}") from exc
