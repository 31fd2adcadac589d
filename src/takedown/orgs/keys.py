"""API keys: how an organization's systems authenticate (re-exported by ``orgs.service``)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.permissions import DEFAULT_KEY_SCOPES, KEY_SCOPES
from takedown.auth.principal import Permission, Principal
from takedown.errors import NotFound, Unauthorized, ValidationFailed
from takedown.orgs.models import ApiKey, Organization

_KEY = re.compile(r"^td_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$")
# Writing last_used_at on every request would turn every read into a write.
_LAST_USED_GRANULARITY = timedelta(minutes=5)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    actor: Principal,
    org: Organization,
    *,
    label: str = "",
    scopes: Iterable[str] | None = None,
    now: datetime,
) -> tuple[str, ApiKey]:
    """A new key for ``org``. The clear key is returned here once and never stored."""
    wanted = DEFAULT_KEY_SCOPES if scopes is None else frozenset(scopes)
    unknown = sorted(str(s) for s in wanted if s not in KEY_SCOPES)
    if unknown:
        allowed = ", ".join(sorted(KEY_SCOPES))
        raise ValidationFailed(f"unknown or unavailable scopes {unknown}; keys may have: {allowed}")
    prefix = secrets.token_hex(5)
    key = f"td_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        org_id=org.id,
        prefix=prefix,
        key_hash=_hash(key),
        label=label or f"key for {org.name}",
        scopes=sorted(str(s) for s in wanted),
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "api_key.create",
        "api_key",
        row.id,
        at=now,
        details={"org": str(org.id), "scopes": row.scopes, "prefix": prefix},
    )
    return key, row


def revoke_key(session: Session, actor: Principal, key_id: uuid.UUID, *, now: datetime) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("no such API key")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor, "api_key.revoke", "api_key", row.id, at=now)
    return row


def list_keys(session: Session, org: Organization) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).where(ApiKey.org_id == org.id).order_by(ApiKey.created_at)
    ).all()


def authenticate_key(session: Session, key: str, *, now: datetime) -> Principal:
    """The principal of a valid, unrevoked key, or Unauthorized."""
    match = _KEY.match(key)
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1))) if match else None
    # compare_digest keeps the comparison time independent of how much of the hash matches.
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        raise Unauthorized("invalid API key")
    if row.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    org = session.get(Organization, row.org_id)
    if org is None:  # pragma: no cover - the foreign key cascades
        raise Unauthorized("invalid API key")
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
        _touch(session, row, now)
    return Principal(
        kind="api_key",
        id=str(row.id),
        label=f"{org.name} ({row.prefix})",
        permissions=frozenset(Permission(s) for s in row.scopes),
        org_id=org.id,
        org_kind=org.kind.value,
        api_key_id=row.id,
    )


def _touch(session: Session, row: ApiKey, now: datetime) -> None:
    """Note when the key was last used, unless another request is noting it right now.

    Every request with a key reads the same row; writing it would make concurrent requests
    queue on its row lock until each commits, so a slow request (a bulk import) would hold
    up every other request with that key. On PostgreSQL the write is skipped when the row is
    locked: the other request is recording the same fact. SQLite has one writer anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        free = session.scalar(
            select(ApiKey.id).where(ApiKey.id == row.id).with_for_update(skip_locked=True)
        )
        if free is None:
            return
    row.last_used_at = now
