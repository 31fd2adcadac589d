"""Which characters text from outside may hold: one rule, used by every request schema.

PostgreSQL cannot store NUL in a text column (psycopg refuses the whole statement), lone
surrogates cannot be encoded as UTF-8 by either database driver, and other control
characters have no business in a name, an id or a URL: they only hide things from the
people reading them. So every text field a request carries is one of two types:

``Line``  a single line (names, ids, URLs, codes): no C0 control character at all, no DEL.
``Text``  free text (notes, descriptions, reasons): tab, CR and LF allowed, nothing else.

A refused value is a 422 naming the field; inside a bulk request only that item fails. The
JSON schema of both types carries a ``pattern`` saying the same thing, so the OpenAPI
document tells clients (and the fuzz test) what is accepted.

Query strings, paths and HTML forms are checked by ``takedown.web.guard`` with the same
rule, since they do not all pass through a schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

# Lone surrogates (U+D800-U+DFFF) arrive through JSON escapes ("\ud800") and break UTF-8.
_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_TEXT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The same rules as JSON-schema patterns (ECMA 262 syntax, escapes kept as text).
LINE_PATTERN = r"^[^\u0000-\u001f\u007f]*$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"


def forbidden_character(value: str, *, multiline: bool) -> str | None:
    """The first character ``value`` may not hold, as ``U+XXXX``; None when it is clean."""
    found = (_TEXT_FORBIDDEN if multiline else _LINE_FORBIDDEN).search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def refusal(character: str, *, multiline: bool) -> str:
    """The message for a refused value: which character, and what is allowed instead."""
    allowed = (
        "tab, CR and LF are the only control characters allowed"
        if multiline
        else ("control characters are not allowed on a single line")
    )
    return f"contains the control character {character}; {allowed}"


def _checker(multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        character = forbidden_character(value, multiline=multiline)
        if character is not None:
            raise PydanticCustomError("control_character", refusal(character, multiline=multiline))
        return value

    return AfterValidator(check)


@dataclass(frozen=True)
class _Pattern:
    """Adds the rule to the field's JSON schema (a field's own pattern wins)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        schema.setdefault("pattern", self.pattern)
        return schema


Line = Annotated[str, _checker(multiline=False), _Pattern(LINE_PATTERN)]
Text = Annotated[str, _checker(multiline=True), _Pattern(TEXT_PATTERN)]
