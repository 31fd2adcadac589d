"""The keyword list: terms staff maintain for search and moderation teams, each with the
reason it was added. A removed term stays as history."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.lists.models import Keyword
from takedown.lists.rows import Row

MAX_TERM_CHARS = 200


def fold(term: str) -> str:
    """The form two terms are compared in: NFKC, case folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", term).casefold().split())


def _clean(term: str) -> str:
    cleaned = " ".join(unicodedata.normalize("NFKC", term).split())
    if not cleaned:
        raise ValidationFailed("a term is required", field="term")
    if len(cleaned) > MAX_TERM_CHARS:
        raise ValidationFailed(f"a term has at most {MAX_TERM_CHARS} characters", field="term")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in cleaned):
        raise ValidationFailed("a term cannot hold control characters", field="term")
    return cleaned


def add(session: Session, term: str, reason: str, *, actor: Principal, now: datetime) -> Keyword:
    cleaned = _clean(term)
    if not reason.strip():
        raise ValidationFailed("say why the term is added", field="reason")
    key = fold(cleaned)
    if session.scalars(select(Keyword).where(Keyword.live_key == key)).first() is not None:
        raise Conflict(f"{cleaned!r} is on the keyword list already")
    keyword = Keyword(
        term=cleaned,
        live_key=key,
        reason=reason.strip(),
        added_by=actor.label,
        added_at=now,
    )
    session.add(keyword)
    session.flush()
    audit.record(session, actor, "keywords.add", "keyword", keyword.id, at=now)
    return keyword


def remove(session: Session, keyword_id: uuid.UUID, *, actor: Principal, now: datetime) -> Keyword:
    keyword = session.get(Keyword, keyword_id)
    if keyword is None:
        raise NotFound(f"no keyword {keyword_id}")
    if keyword.removed_at is None:
        keyword.live_key = None
        keyword.removed_at = now
        keyword.removed_by = actor.label
        audit.record(session, actor, "keywords.remove", "keyword", keyword.id, at=now)
    return keyword


def live(session: Session) -> Sequence[Keyword]:
    return session.scalars(
        select(Keyword).where(Keyword.removed_at.is_(None)).order_by(Keyword.term)
    ).all()


def live_rows(session: Session) -> list[Row]:
    # A reason is free text: line breaks and tabs become spaces so the row stays one line.
    return [
        (k.term, " ".join(k.reason.split()), k.added_at.isoformat(timespec="seconds"))
        for k in live(session)
    ]
