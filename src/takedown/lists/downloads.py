"""Members download published lists: entitlement, ETags, rendering with a small cache, signing,
and the download log.

An ETag is a digest of what decides the bytes (list, version, content digest, format, banks),
so a member polling with ``If-None-Match`` is answered 304 without rendering anything. Rendered
files are kept in a small per-process cache: a 1,000,000-entry list takes seconds to render and
every member asks for the same few files after a publication.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth.principal import Principal
from takedown.config import Settings
from takedown.errors import Forbidden, ValidationFailed
from takedown.lists import exports, signing
from takedown.lists.models import ListDownload, ListMember, ListName, ListVersion
from takedown.lists.rows import COLUMNS, Diff, Row, unpack
from takedown.lists.versions import changes_since, get_version

_CACHE_SIZE = 8


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What a caller may download of a list: everything, or only some banks' hashes."""

    org_id: uuid.UUID | None
    banks: tuple[str, ...]  # empty: every bank

    def rows(self, name: ListName, rows: Sequence[Row]) -> list[Row]:
        if name is ListName.HASHES and self.banks:
            wanted = set(self.banks)
            return [r for r in rows if r[0] in wanted]
        return list(rows)


def entitlement(session: Session, caller: Principal, name: ListName) -> Entitlement:
    """Staff see every list whole; an organization's key only the lists it is a member of."""
    if caller.kind != "api_key":
        return Entitlement(None, ())
    member = session.scalars(
        select(ListMember).where(
            ListMember.org_id == caller.org_id, ListMember.list_name == name.value
        )
    ).first()
    if member is None:
        raise Forbidden(f"your organization is not a member of the {name.value} list")
    return Entitlement(caller.org_id, tuple(sorted(member.banks)))


@dataclass(frozen=True, slots=True)
class ListFile:
    name: ListName
    version: int
    fmt: str
    etag: str
    body: bytes
    signature: bytes
    media_type: str
    filename: str
    # The caller holds this file already (If-None-Match): body and signature are empty.
    not_modified: bool = False


class _Cache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bytes, bytes] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, item: tuple[bytes, bytes]) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_cache = _Cache(_CACHE_SIZE)


def etag_of(version: ListVersion, fmt: str, grant: Entitlement) -> str:
    basis = f"{version.list_name}\n{version.number}\n{version.content_sha256}\n{fmt}\n"
    basis += ",".join(grant.banks)
    return '"' + hashlib.sha256(basis.encode()).hexdigest()[:32] + '"'


def check_format(name: ListName, fmt: str) -> str:
    if fmt not in exports.FORMATS[name]:
        raise ValidationFailed(
            f"the {name.value} list comes as {', '.join(exports.FORMATS[name])}, not {fmt!r}",
            field="format",
        )
    return fmt


def render_version(
    version: ListVersion, fmt: str, grant: Entitlement, settings: Settings
) -> tuple[bytes, bytes]:
    """The file and its detached signature, from the cache when it holds them."""
    name = ListName(version.list_name)
    key = etag_of(version, fmt, grant)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    rows = grant.rows(name, unpack(version.content))
    body = exports.render(name, version.number, version.created_at, rows, fmt, settings)
    item = (body, signing.sign(body, signing.signing_key(settings)))
    _cache.put(key, item)
    return item


def _log(
    session: Session,
    caller: Principal,
    grant: Entitlement,
    version: ListVersion,
    fmt: str,
    status: int,
    now: datetime,
    since: int | None = None,
) -> None:
    session.add(
        ListDownload(
            list_name=version.list_name,
            version=version.number,
            since=since,
            format=fmt,
            org_id=grant.org_id,
            principal=caller.label,
            status=status,
            at=now,
        )
    )


def download(
    session: Session,
    caller: Principal,
    name: ListName,
    fmt: str,
    *,
    number: int | None,
    if_none_match: str | None,
    settings: Settings,
    now: datetime,
) -> ListFile:
    """The file of a version (the latest by default), or only its ETag when ``if_none_match``
    says the caller holds it already. Every request is logged, 304s included."""
    check_format(name, fmt)
    grant = entitlement(session, caller, name)
    version = get_version(session, name, number)
    etag = etag_of(version, fmt, grant)
    fresh = if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}
    _log(session, caller, grant, version, fmt, 304 if fresh else 200, now)
    body, signature = (b"", b"") if fresh else render_version(version, fmt, grant, settings)
    return ListFile(
        name,
        version.number,
        fmt,
        etag,
        body,
        signature,
        exports.media_type(fmt),
        exports.filename(name, version.number, fmt),
        not_modified=fresh,
    )


def diff_document(
    session: Session,
    caller: Principal,
    name: ListName,
    since: int,
    *,
    settings: Settings,
    now: datetime,
) -> tuple[bytes, bytes]:
    """What changed since version ``since``, as signed JSON:
    ``{"list", "from", "to", "added": [...], "removed": [...]}``."""
    grant = entitlement(session, caller, name)
    newest, change = changes_since(session, name, since)
    _log(session, caller, grant, newest, "diff", 200, now, since=since)
    change = Diff(grant.rows(name, change.added), grant.rows(name, change.removed))
    columns = COLUMNS[name]
    document = {
        "list": name.value,
        "from": since,
        "to": newest.number,
        "published_at": newest.created_at.isoformat(),
        "added": [dict(zip(columns, r, strict=True)) for r in change.added],
        "removed": [dict(zip(columns, r, strict=True)) for r in change.removed],
    }
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body, signing.sign(body, signing.signing_key(settings))
