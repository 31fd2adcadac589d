"""TLD hopping: a new case on a name that material was already confirmed under elsewhere.

Sites dedicated to the material often come back under another top-level domain once a
registry suspends them (``badsite.example`` → ``badsite.test``), or under a near copy of the
name (``badsite2.test``). When intake opens a case, its registered domain's label (the part
left of the public suffix: ``badsite`` in ``badsite.co.uk``) is compared with the labels of
domains with confirmed material; a match under a *different* public suffix puts a
``tld_hopping`` event on the new case's timeline naming the earlier domains, with the earlier
case ids in its data, so the analyst sees the cases linked.

What counts:

* a match is the same label or one within edit distance 1 (one letter added, removed or
  changed: ``badsite``/``badsites``/``badsife``);
* only labels of 4 characters or more, on both sides: short labels (``abc``, ``tv1``) are
  shared by countless unrelated sites, and at distance 1 a 3-letter label is close to
  thousands of others, so flags on them would mostly be noise;
* only under another public suffix: the same registered domain is the same site (not a hop),
  and a near name under the same suffix is a different registration, not a hop;
* only earlier cases whose material was confirmed: a case in state ``confirmed``, or any case
  whose timeline has the move to ``confirmed`` (closed after removal, or reopened since).

How it stays cheap on a big table: candidates come from the database, never from a scan in
Python. A label ``badsite`` (7 characters) asks for names in the index range starting with
``ba`` that match ``ba_____.%`` (its own length: exact matches and substitutions),
``ba____.%`` or ``ba______.%`` (one shorter or longer): names whose label starts with the same
two characters and has a length within one. The distance is then computed in Python on those
distinct names only. One query serves up to 50 prefixes, so a bulk of thousands of reports
costs a few queries. The price of the anchor: a near name that differs in its first two
characters (``vadsite`` for ``badsite``) is not found; the exact label always is.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.urls import public_suffix

EVENT_KIND: Final = "tld_hopping"
MIN_LABEL: Final = 4  # labels of 3 characters or fewer are never compared (see above)
PREFIX: Final = 2  # characters a candidate's label must share with the new one
MAX_LINKED: Final = 50  # earlier case ids kept in one event's data
_HEADS_PER_QUERY: Final = 50  # prefixes (each with up to three patterns) per query
_ESCAPE: Final = "\\"


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with at most one character inserted, deleted or replaced."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    # a is now the shorter (or as long): skip the common prefix, then the rest must agree
    # after one replacement (same length) or one insertion into a (b one longer).
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


@dataclass(frozen=True)
class Name:
    """A registered domain split at its public suffix: ``badsite`` + ``co.uk``."""

    domain: str
    label: str
    suffix: str


def split_domain(domain: str) -> Name | None:
    """``badsite.co.uk`` → label ``badsite``, suffix ``co.uk``; None if it has no label."""
    suffix = public_suffix(domain)
    if suffix is None or not domain.endswith(f".{suffix}"):
        return None
    label = domain[: -len(suffix) - 1]
    if not label or "." in label:
        return None
    return Name(domain, label, suffix)


def _like_escape(text: str) -> str:
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", f"{_ESCAPE}%").replace("_", f"{_ESCAPE}_")
    )


def candidate_patterns(label: str) -> list[str]:
    """LIKE patterns for registered domains whose label may be within distance 1 of
    ``label``: the same first two characters and a label length within one."""
    head = _like_escape(label[:PREFIX])
    lengths = range(max(MIN_LABEL, len(label) - 1), len(label) + 2)
    return [f"{head}{'_' * (length - PREFIX)}.%" for length in lengths]


def _ever_confirmed() -> ColumnElement[bool]:
    """Cases whose material was confirmed: confirmed now, or moved to confirmed before."""
    moved = exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.kind == "state_changed",
        CaseEvent.data["to"].as_string() == CaseState.CONFIRMED.value,
    )
    return or_(Case.state == CaseState.CONFIRMED, moved)


def _prefix_range(head: str) -> ColumnElement[bool]:
    """Names starting with ``head``, as a range an index on the column serves on any database
    (a LIKE prefix needs a C collation or a pattern index on PostgreSQL, and SQLite's LIKE is
    case-insensitive, which keeps it off a BINARY index)."""
    upper = head[:-1] + chr(ord(head[-1]) + 1)
    return and_(Case.registered_domain >= head, Case.registered_domain < upper)


def _known_domains(session: Session, heads: Mapping[str, set[str]]) -> list[str]:
    """Registered domains with confirmed material that match one of the LIKE patterns.

    ``heads`` maps each first-two-characters prefix to its patterns; every prefix is one
    index range, the patterns filter inside it.
    """
    ordered = sorted(heads)
    found: list[str] = []
    for start in range(0, len(ordered), _HEADS_PER_QUERY):
        ranges = [
            and_(
                _prefix_range(head),
                or_(*(Case.registered_domain.like(p, escape=_ESCAPE) for p in sorted(heads[head]))),
            )
            for head in ordered[start : start + _HEADS_PER_QUERY]
        ]
        query = (
            select(Case.registered_domain)
            .where(or_(*ranges), _ever_confirmed())
            .group_by(Case.registered_domain)
        )
        found += [d for d in session.scalars(query) if d is not None]
    return found


def _is_hop(new: Name, known: Name) -> bool:
    return (
        known.suffix != new.suffix
        and len(known.label) >= MIN_LABEL
        and edit_distance_at_most_one(new.label, known.label)
    )


def _earlier_cases(session: Session, domains: Sequence[str]) -> tuple[list[uuid.UUID], int]:
    """Up to ``MAX_LINKED`` confirmed cases under ``domains`` (newest first), and how many."""
    where = and_(Case.registered_domain.in_(domains), _ever_confirmed())
    total = session.scalar(select(func.count()).select_from(Case).where(where)) or 0
    ids = session.scalars(
        select(Case.id).where(where).order_by(Case.created_at.desc(), Case.id).limit(MAX_LINKED)
    ).all()
    return list(ids), total


def flag_new_cases(
    session: Session, new_cases: Mapping[uuid.UUID, str | None], *, now: datetime
) -> int:
    """Flag each new case (id → registered domain) whose name hops from a confirmed one.

    Called by intake in the transaction that opens the cases; returns how many were flagged.
    """
    names: dict[uuid.UUID, Name] = {}
    for case_id, domain in new_cases.items():
        name = split_domain(domain) if domain else None
        if name is not None and len(name.label) >= MIN_LABEL:
            names[case_id] = name
    if not names:
        return 0
    heads: dict[str, set[str]] = defaultdict(set)
    for name in names.values():
        heads[name.label[:PREFIX]].update(candidate_patterns(name.label))
    by_head: dict[str, list[Name]] = defaultdict(list)
    for domain in _known_domains(session, heads):
        known = split_domain(domain)
        if known is not None:
            by_head[known.label[:PREFIX]].append(known)
    linked: dict[tuple[str, ...], tuple[list[uuid.UUID], int]] = {}
    flagged = 0
    for case_id, name in names.items():
        hops = sorted(
            (k for k in by_head.get(name.label[:PREFIX], []) if _is_hop(name, k)),
            key=lambda k: k.domain,
        )
        if not hops:
            continue
        key = tuple(k.domain for k in hops)
        if key not in linked:
            linked[key] = _earlier_cases(session, key)
        _flag(session, case_id, name, hops, *linked[key], now=now)
        flagged += 1
    return flagged


def _flag(
    session: Session,
    case_id: uuid.UUID,
    name: Name,
    hops: list[Name],
    earlier: list[uuid.UUID],
    total: int,
    *,
    now: datetime,
) -> None:
    domains = [k.domain for k in hops]
    shown = ", ".join(domains[:5]) + (f" and {len(domains) - 5} more" if len(domains) > 5 else "")
    exact = all(k.label == name.label for k in hops)
    how = "the same name" if exact else "the same or a near name"
    cases.add_event(
        session,
        session.get_one(Case, case_id),
        EVENT_KIND,
        f"Possible TLD hopping: {name.domain} has {how} as {shown}, where material was "
        f"confirmed ({total} case{'s' if total != 1 else ''})",
        actor="system",
        at=now,
        data={
            "label": name.label,
            "domains": domains,
            "case_ids": [str(i) for i in earlier],
            "case_count": total,
        },
    )
