"""Parsing of RDAP JSON (RFC 9083) into the few facts tracing uses.

RDAP JSON comes from the internet and is parsed as hostile: wrong types yield ``None``, never an
exception, and the walk through nested entities is bounded. Neither the document nor its
personal data (registrant names, addresses, phones) is kept: :func:`document_facts` picks
identifiers and abuse contacts only, and :func:`result_from_facts` re-checks them when they come
back from the cache. Nothing here does I/O; the client is :mod:`takedown.tracing.rdap`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from typing import Any, Literal

from takedown.tracing.interfaces import RdapResult

Kind = Literal["ip", "autnum", "domain"]

# Bounds on the walk through nested entities: real answers nest two or three levels, with a few
# dozen entities; a hostile one must not make us walk thousands.
MAX_ENTITY_DEPTH = 6
MAX_ENTITIES = 200
MAX_TEXT = 255
# Fields of the answer kept in ``RdapResult.raw`` and the cache: identifiers, no personal data.
RAW_FIELDS = ("name", "handle", "country", "startAddress", "endAddress", "ldhName")
_EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")


def result_from_facts(
    kind: Kind, query: str, status: int, body: dict[str, Any], *, cached: bool
) -> RdapResult:
    """A result from stored facts; they are re-checked, since old rows may predate this code."""
    raw_value = as_dict(body.get("raw"))
    return RdapResult(
        ok=True,
        kind=kind,
        query=query,
        status=status,
        name=_text(body.get("name")),
        handle=_text(body.get("handle")),
        country=_country(body.get("country")),
        abuse_email=_email(_text(body.get("abuse_email"))),
        registrar_name=_text(body.get("registrar_name")),
        registrar_iana_id=_text(body.get("registrar_iana_id")),
        registrar_abuse_email=_email(_text(body.get("registrar_abuse_email"))),
        cached=cached,
        raw={name: text for name in RAW_FIELDS if (text := _text(raw_value.get(name)))},
    )


def document_facts(kind: Kind, document: dict[str, Any]) -> dict[str, Any]:
    """The facts tracing uses from an RDAP object, as plain JSON for the cache."""
    name = document.get("ldhName") if kind == "domain" else document.get("name")
    facts: dict[str, Any] = {
        "name": _lower(_text(name)) if kind == "domain" else _text(name),
        "handle": _text(document.get("handle")),
        "country": _country(document.get("country")),
        "abuse_email": _abuse_email(document),
    }
    if kind == "domain":
        registrar = next(_with_role(document, "registrar"), None)
        if registrar is not None:
            facts["registrar_name"] = next(_vcard_values(registrar, "fn"), None)
            facts["registrar_iana_id"] = _iana_id(registrar)
            facts["registrar_abuse_email"] = _abuse_email(registrar)
    facts["raw"] = {name: text for name in RAW_FIELDS if (text := _text(document.get(name)))}
    return facts


def _entities(parent: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The entities below ``parent``, breadth first: shallower ones come first."""
    queue = deque((1, entity) for entity in _dicts(parent.get("entities")))
    walked = 0
    while queue and walked < MAX_ENTITIES:
        depth, entity = queue.popleft()
        walked += 1
        yield entity
        if depth < MAX_ENTITY_DEPTH:
            queue.extend((depth + 1, child) for child in _dicts(entity.get("entities")))


def _with_role(parent: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    for entity in _entities(parent):
        roles = entity.get("roles")
        if isinstance(roles, list) and any(
            isinstance(r, str) and r.strip().lower() == role for r in roles
        ):
            yield entity


def _abuse_email(parent: dict[str, Any]) -> str | None:
    """The e-mail of the shallowest entity with the "abuse" role that has one."""
    for entity in _with_role(parent, "abuse"):
        for value in _vcard_values(entity, "email"):
            if (email := _email(value)) is not None:
                return email
    return None


def _vcard_values(entity: dict[str, Any], prop: str) -> Iterator[str]:
    """The text values of property ``prop`` in a jCard (RFC 7095) ``vcardArray``.

    A jCard is ``["vcard", [[name, params, type, value], ...]]``.
    """
    card = entity.get("vcardArray")
    if not isinstance(card, list) or len(card) < 2 or card[0] != "vcard":
        return
    for item in _lists(card[1]):
        if len(item) >= 4 and isinstance(item[0], str) and item[0].lower() == prop:
            value = _text(item[3])
            if value is not None:
                yield value


def _iana_id(entity: dict[str, Any]) -> str | None:
    for public_id in _dicts(entity.get("publicIds")):
        kind = public_id.get("type")
        if isinstance(kind, str) and kind.strip().lower() == "iana registrar id":
            identifier = public_id.get("identifier")
            if isinstance(identifier, int) and not isinstance(identifier, bool):
                identifier = str(identifier)
            text = _text(identifier)
            if text is not None and text.isascii() and text.isdigit() and len(text) <= 10:
                return text
    return None


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    address = value.removeprefix("mailto:").strip()
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        return None
    return address


def _country(value: object) -> str | None:
    if isinstance(value, str) and _COUNTRY.fullmatch(value.strip()):
        return value.strip().upper()
    return None


def _text(value: object) -> str | None:
    """A string without control characters, trimmed and bounded; None for anything else."""
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value[: MAX_TEXT * 4] if unicodedata.category(ch) != "Cc")
    return text.strip()[:MAX_TEXT] or None


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _lists(value: object) -> list[list[Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_ENTITIES] if isinstance(item, list)]


def _dicts(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_ENTITIES] if isinstance(item, dict)]
