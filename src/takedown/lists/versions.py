"""Publishing a list: numbered versions, each with its diff, checked by the guard.

A version is published only when the list changed. Its number is the previous number plus one
(the RPZ serial is the number, so it must only grow); two publishers racing for a number are
kept apart by the unique constraint on (list, number), and the loser's transaction fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.config import Settings
from takedown.errors import Conflict, NotFound
from takedown.lists import guard
from takedown.lists.models import ListName, ListVersion
from takedown.lists.rows import Diff, Packed, Row, diff, pack, unpack
from takedown.lists.sources import current_rows


class GuardRefused(Conflict):
    title = "The publication guard refused the version"


@dataclass(frozen=True, slots=True)
class Draft:
    """What publishing now would give."""

    name: ListName
    previous: ListVersion | None
    rows: list[Row]
    change: Diff
    violations: list[guard.Violation]

    @property
    def digest(self) -> str:
        """What a supervisor approves: the SHA-256 of the rows as they would be published."""
        return pack(self.name, self.rows).sha256

    @property
    def changed(self) -> bool:
        return self.previous is None or bool(self.change.added or self.change.removed)


def list_name(text: str) -> ListName:
    try:
        return ListName(text)
    except ValueError:
        raise NotFound(f"no list {text!r}; the lists are urls, hashes and keywords") from None


def latest(session: Session, name: ListName) -> ListVersion | None:
    return session.scalars(
        select(ListVersion)
        .where(ListVersion.list_name == name.value)
        .order_by(ListVersion.number.desc())
        .limit(1)
    ).first()


def get_version(session: Session, name: ListName, number: int | None) -> ListVersion:
    """Version ``number``, or the latest when None."""
    if number is None:
        version = latest(session, name)
        if version is None:
            raise NotFound(f"the {name.value} list has not been published yet")
        return version
    version = session.scalars(
        select(ListVersion).where(ListVersion.list_name == name.value, ListVersion.number == number)
    ).first()
    if version is None:
        raise NotFound(f"the {name.value} list has no version {number}")
    return version


def all_versions(session: Session, name: ListName, limit: int = 100) -> list[ListVersion]:
    return list(
        session.scalars(
            select(ListVersion)
            .where(ListVersion.list_name == name.value)
            .order_by(ListVersion.number.desc())
            .limit(limit)
        )
    )


def draft(session: Session, name: ListName, settings: Settings) -> Draft:
    previous = latest(session, name)
    rows = current_rows(session, name)
    change = diff(unpack(previous.content) if previous else [], rows)
    return Draft(name, previous, rows, change, guard.check(name, change, settings))


def publish(
    session: Session,
    name: ListName,
    *,
    actor: Principal,
    now: datetime,
    settings: Settings,
    approve: bool = False,
    reviewed: str | None = None,
) -> ListVersion | None:
    """Publish the list if it changed; None when it did not.

    With guard violations this raises ``GuardRefused`` unless ``approve`` (a supervisor's
    decision, checked by the caller), which is recorded on the version with what was approved.
    ``reviewed`` is the digest of the draft the supervisor looked at (``Draft.digest``): when
    given, a list that changed since is refused rather than approved unseen.
    """
    plan = draft(session, name, settings)
    if not plan.changed:
        return None
    packed = pack(name, plan.rows)
    if reviewed is not None and reviewed != packed.sha256:
        raise Conflict(
            "the list changed since the draft you reviewed; look at the draft again",
            draft=packed.sha256,
        )
    violations = [v.as_dict() for v in plan.violations]
    if violations and not approve:
        raise GuardRefused(
            "; ".join(v["detail"] for v in violations) + ". A supervisor can approve the version.",
            violations=violations,
            draft=packed.sha256,
        )
    return _store(session, name, plan.previous, packed, plan.change, actor, now, violations)


def publish_removals(
    session: Session, name: ListName, *, actor: Principal, now: datetime, settings: Settings
) -> ListVersion | None:
    """While the guard holds a version back, publish only what it takes off the list.

    Withdrawals (content removed, an appeal upheld) must reach members at once, whatever
    waits for a supervisor. Nothing is published when the removals themselves are what the
    guard refused, or when there are none.
    """
    plan = draft(session, name, settings)
    if plan.previous is None or not plan.change.removed:
        return None
    if any(v.rule == "too_many_removed" for v in plan.violations):
        return None
    gone = set(plan.change.removed)
    rows = [r for r in unpack(plan.previous.content) if r not in gone]
    change = Diff(added=[], removed=plan.change.removed)
    return _store(session, name, plan.previous, pack(name, rows), change, actor, now, [])


def _store(
    session: Session,
    name: ListName,
    previous: ListVersion | None,
    packed: Packed,
    change: Diff,
    actor: Principal,
    now: datetime,
    violations: list[dict[str, str]],
) -> ListVersion:
    version = ListVersion(
        list_name=name.value,
        number=(previous.number if previous else 0) + 1,
        created_at=now,
        created_by=actor.label,
        entry_count=packed.count,
        added_count=len(change.added),
        removed_count=len(change.removed),
        content=packed.content,
        content_sha256=packed.sha256,
        approved_by=actor.label if violations else None,
        guard=violations,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor,
        "lists.publish",
        "list_version",
        version.id,
        at=now,
        details={
            "list": name.value,
            "number": version.number,
            "added": version.added_count,
            "removed": version.removed_count,
            "approved_violations": violations,
        },
    )
    return version


def changes_since(session: Session, name: ListName, since: int) -> tuple[ListVersion, Diff]:
    """The latest version and its difference from version ``since``."""
    newest = get_version(session, name, None)
    if since > newest.number or since < 0:
        raise NotFound(f"the {name.value} list has no version {since}")
    old = unpack(get_version(session, name, since).content) if since else []
    return newest, diff(old, unpack(newest.content))
